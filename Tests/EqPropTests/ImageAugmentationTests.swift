import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

@Suite("Image augmentation: random shifts and mirror images of the training batches")
struct ImageAugmentationTests {
    /// torchvision's construction, independently of ``ImageAugmentation/apply(_:to:)``: mirror, pad
    /// every side by `shift` repeating the border, then crop the original size at offset
    /// `(shift − δᵢ, shift − δⱼ)`.
    func padAndCrop(_ image: [Double], channels: Int, height: Int, width: Int, shift: Int, draw: ImageAugmentation.Draw) -> [Double] {
        let (paddedHeight, paddedWidth) = (height + 2 * shift, width + 2 * shift)
        var padded = [Double](repeating: .nan, count: channels * paddedHeight * paddedWidth)
        for c in 0..<channels {
            for i in 0..<paddedHeight {
                for j in 0..<paddedWidth {
                    let column = min(max(j - shift, 0), width - 1)
                    let source = draw.flipped ? width - 1 - column : column
                    padded[(c * paddedHeight + i) * paddedWidth + j] = image[(c * height + min(max(i - shift, 0), height - 1)) * width + source]
                }
            }
        }
        var cropped: [Double] = []
        for c in 0..<channels {
            for i in 0..<height {
                for j in 0..<width { cropped.append(padded[(c * paddedHeight + i + shift - draw.rows) * paddedWidth + j + shift - draw.columns]) }
            }
        }
        return cropped
    }

    @Test("Each image is moved and mirrored as padding its border and cropping would do, every draw on a 2×4×5 image")
    func matchesPaddingAndCropping() {
        let (channels, height, width, shift) = (2, 4, 5, 2)
        let augmentation = ImageAugmentation(shift: shift, horizontalFlip: true, channels: channels, height: height, width: width)
        let image = (0..<channels * height * width).map { Double($0 * 7 % 13) + 0.5 }
        var draws: [ImageAugmentation.Draw] = []
        for rows in -shift...shift { for columns in -shift...shift { for flipped in [false, true] { draws.append(.init(rows: rows, columns: columns, flipped: flipped)) } } }
        var images = Matrix(rows: draws.count, columns: image.count, elements: Array(Array(repeating: image, count: draws.count).joined()))
        augmentation.apply(draws, to: &images)
        for (row, draw) in draws.enumerated() {
            #expect(Array(images.rows(row..<(row + 1)).elements) == padAndCrop(image, channels: channels, height: height, width: width, shift: shift, draw: draw),
                    "\(draw)")
        }
        #expect(images.rows(0..<1).elements != image, "a move of (−2, −2) changes the image")
        let still = draws.firstIndex(of: .init(rows: 0, columns: 0, flipped: false))!
        #expect(images.rows(still..<(still + 1)).elements == image, "no move and no mirror leave it as it was")
    }

    @Test("Draws are uniform over the shifts and mirror half of the images, reproducibly from the seed; nothing is drawn for nothing")
    func draws() {
        let augmentation = ImageAugmentation(shift: 2, horizontalFlip: true, channels: 1, height: 28, width: 28)
        var generator = SeededGenerator(seed: 5), again = SeededGenerator(seed: 5)
        let draws = augmentation.draws(count: 5000, using: &generator)
        #expect(draws == augmentation.draws(count: 5000, using: &again))
        for shift in -2...2 {
            // Each of the 5 values has probability 1/5: 1,000 expected, sd 28.
            #expect(abs(draws.filter { $0.rows == shift }.count - 1000) < 150 && abs(draws.filter { $0.columns == shift }.count - 1000) < 150, "\(shift)")
        }
        #expect(abs(draws.filter(\.flipped).count - 2500) < 200)
        var untouched = SeededGenerator(seed: 5)
        let none = ImageAugmentation(shift: 0, horizontalFlip: false, channels: 1, height: 28, width: 28).draws(count: 10, using: &untouched)
        #expect(none.allSatisfy { $0 == .init(rows: 0, columns: 0, flipped: false) } && untouched == SeededGenerator(seed: 5))
    }

    /// A small Hopfield network (1×4×4-8-2 unless `layers` says otherwise) trained by EP, with
    /// `training` added to its training section.
    func tinyRun(layers: String = "[1x4x4, 8, 2]", rates: String = "[0.1, 0.05]", _ training: String = "") throws -> RunFile {
        try RunFile(yaml: """
            seed: 2
            architecture:
              layers: \(layers)
            dynamics: {epsilon: 0.5, free-steps: 10, nudged-steps: 4}
            rule: {name: ep, beta: 0.5}
            training: {epochs: 1, batch-size: 4, learning-rates: \(rates)\(training)}
            """, file: "tiny.yaml")
    }

    @Test("The run file's random-shift and horizontal-flip reach the trainer, are written back, and change training only")
    func runFileAndTrainer() throws {
        let run = try tinyRun(", random-shift: 1, horizontal-flip: true")
        #expect(run.yaml.contains("  random-shift: 1\n") && run.yaml.contains("  horizontal-flip: true\n"))
        #expect(try RunFile(yaml: run.yaml, file: "written.yaml") == run)
        let unused = try tinyRun().yaml
        #expect(!unused.contains("random-shift") && !unused.contains("horizontal-flip"), "nothing written when unused")
        let data = ClassificationData<Float>(inputs: Matrix(rows: 8, columns: 16, elements: (0..<128).map { Float(($0 * 5) % 9) / 9 }),
                                             labels: (0..<8).map { $0 % 2 }, classCount: 2)
        var augmented: Trainer<Float> = try run.specification.learning.makeTrainer(trainingCount: data.count)
        var plain: Trainer<Float> = try tinyRun().specification.learning.makeTrainer(trainingCount: data.count)
        #expect(augmented.augmentation == ImageAugmentation(shift: 1, horizontalFlip: true, channels: 1, height: 4, width: 4) && plain.augmentation == nil)
        let (augmentedMeasurement, plainMeasurement) = (try augmented.evaluate(on: data), try plain.evaluate(on: data))
        #expect(augmentedMeasurement == plainMeasurement, "evaluation sees the images as they are")
        _ = try augmented.trainEpoch(on: data)
        _ = try plain.trainEpoch(on: data)
        #expect(augmented.energy.parameters != plain.energy.parameters, "the same seed trained on other images")
    }

    @Test("Augmentation is refused by key for an input that is not an image, a shift as large as the image, or a negative shift")
    func refusals() throws {
        let dense = try tinyRun(layers: "[784, 10]", rates: "[0.1]").yaml
        for (yaml, key, expected) in [
            (dense + "  random-shift: 2\n", "training.random-shift", "an input layer of images, channels×height×width (e.g. 1x28x28), not 784"),
            (dense + "  horizontal-flip: true\n", "training.horizontal-flip", "an input layer of images"),
            (try tinyRun().yaml + "  random-shift: 4\n", "training.random-shift", "a shift smaller than the height and width of the 1×4×4 images"),
            (try tinyRun().yaml + "  random-shift: -1\n", "training.random-shift", "0 or more pixels"),
        ] {
            do {
                _ = try RunFile(yaml: yaml, file: "bad.yaml")
                Issue.record("\(key) accepted: \(yaml)")
            } catch {
                #expect("\(error)".contains(key) && "\(error)".contains(expected), "\(error)")
            }
        }
    }
}
