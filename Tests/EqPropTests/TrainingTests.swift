import Datasets
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

@Suite("Training")
struct TrainingTests {
    var net1: TrainingConfiguration { RunFile.presets["scellier2017-net1"]!.configuration }

    @Test("Presets carry the paper code's hyperparameters, translated to C = ½‖y − d‖²")
    func presets() throws {
        let net1 = RunFile.presets["scellier2017-net1"]!.configuration
        #expect(net1.layerSizes == [784, 500, 10] && net1.epochs == 25 && net1.batchSize == 20)
        #expect(net1.freeSteps == 20 && net1.nudgedSteps == 4 && net1.stepSize == 0.5)
        #expect(net1.beta == 1 && net1.learningRates == [0.2, 0.1] && net1.randomSign)
        let net2 = RunFile.presets["scellier2017-net2"]!.configuration
        #expect(net2.layerSizes == [784, 500, 500, 10] && net2.epochs == 60 && net2.freeSteps == 150 && net2.nudgedSteps == 6)
        #expect(net2.beta == 2 && net2.learningRates == [0.8, 0.2, 0.02])
        let net3 = RunFile.presets["scellier2017-net3"]!.configuration
        #expect(net3.layerSizes == [784, 500, 500, 500, 10] && net3.epochs == 500 && net3.freeSteps == 500 && net3.nudgedSteps == 8)
        #expect(net3.learningRates == [0.256, 0.064, 0.016, 0.004])
        for preset in RunFile.presets.values { try preset.configuration.validate() }
    }

    static let impossibleSettings: [(String, TrainingConfiguration)] = {
        let net1 = RunFile.presets["scellier2017-net1"]!.configuration
        func changed(_ change: (inout TrainingConfiguration) -> Void) -> TrainingConfiguration {
            var configuration = net1
            change(&configuration)
            return configuration
        }
        return [
            ("epsilon", changed { $0.stepSize = -0.5 }),
            ("batch-size", changed { $0.batchSize = 0 }),
            ("beta", changed { $0.beta = 0 }),
            ("learning-rates", changed { $0.learningRates = [0.1] }),
            ("learning-rates", changed { $0.learningRates = [0.1, .nan] }),
            ("free-steps", changed { $0.freeSteps = 0 }),
            ("layers", changed { $0.layerSizes = [784] }),
        ("noise", changed { $0.noise = -0.1 }),
            ("energy", changed { $0.rule = .pcNudge }),
            ("energy", changed { $0.rule = .bp }),
            ("energy", changed { $0.rule = .stdp; $0.energy = .pc }),
            ("beta", changed { $0.rule = .pc; $0.energy = .pc; $0.beta = -0.1 }),
            ("cost", changed { $0.rule = .chl; $0.cost = .crossEntropy }),
            ("weight-decay", changed { $0.weightDecay = -0.01 }),
            ("weight-decay", changed { $0.weightDecay = 5 }),  // α₀·λ = 0.2·5 ≥ 1 would flip every weight's sign
        ]
    }()

    @Test("Impossible hyperparameters are refused, naming the flag", arguments: impossibleSettings)
    func validation(flag: String, configuration: TrainingConfiguration) {
        do {
            try configuration.validate()
            Issue.record("--\(flag) should have been refused")
        } catch let error as ConfigurationError {
            #expect(error.setting == flag)
            #expect(error.description.hasPrefix("--\(flag):"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// A small synthetic problem: 4×4 images of two classes (bright top or bright bottom).
    func synthetic(count: Int, seed: UInt64) -> ClassificationData<Float> {
        var generator = SeededGenerator(seed: seed)
        var inputs = Matrix<Float>(rows: count, columns: 16)
        var labels: [Int] = []
        for row in 0..<count {
            let label = Int.random(in: 0..<2, using: &generator)
            labels.append(label)
            for j in 0..<16 {
                let bright = (j < 8) == (label == 0)
                inputs[row, j] = bright ? Float.random(in: 0.6...1, using: &generator) : Float.random(in: 0...0.3, using: &generator)
            }
        }
        return ClassificationData(inputs: inputs, labels: labels, classCount: 2)
    }

    func smallConfiguration() -> TrainingConfiguration {
        var c = net1
        c.layerSizes = [16, 8, 2]
        c.batchSize = 10
        return c
    }

    @Test("Training is deterministic for a seed and learns a separable problem")
    func deterministicLearning() throws {
        let data = synthetic(count: 400, seed: 1)
        var first = try Trainer<Float>(configuration: smallConfiguration(), trainingCount: data.count)
        var second = try Trainer<Float>(configuration: smallConfiguration(), trainingCount: data.count)
        var measurements: [Trainer<Float>.Measurement] = []
        for _ in 0..<5 {
            let a = try first.trainEpoch(on: data)
            let b = try second.trainEpoch(on: data)
            #expect(a == b)
            measurements.append(a)
        }
        #expect(first.energy.parameters == second.energy.parameters)
        let test = try first.evaluate(on: synthetic(count: 200, seed: 2))
        #expect(test.error < 0.05, "test error \(test.error)")
        #expect(measurements.last!.cost < measurements.first!.cost)
    }

    @Test("The STDP rule trains the separable problem, with and without Langevin noise", arguments: [0.0, 0.01])
    func stdpLearns(noise: Double) throws {
        var c = smallConfiguration()
        c.rule = .stdp
        c.noise = noise
        c.randomSign = false
        let data = synthetic(count: 400, seed: 1)
        var trainer = try Trainer<Float>(configuration: c, trainingCount: data.count)
        for _ in 0..<5 { _ = try trainer.trainEpoch(on: data) }
        let test = try trainer.evaluate(on: synthetic(count: 200, seed: 2))
        #expect(test.error < 0.05, "test error \(test.error)")
    }

    /// The small network on the predictive-coding energy, trained with `rule`.
    func predictiveCodingConfiguration(rule: TrainingConfiguration.Rule) -> TrainingConfiguration {
        var c = smallConfiguration()
        c.energy = .pc
        c.hidden = .tanh
        c.rule = rule
        c.randomSign = false
        c.beta = rule == .pc ? 0.5 : 0.1
        c.stepSize = 0.1
        c.nudgedSteps = 50
        c.learningRates = [0.1, 0.1]
        return c
    }

    @Test("Every rule of the family trains the separable problem on the predictive-coding energy",
          arguments: [TrainingConfiguration.Rule.bp, .pcNudge, .pc, .ep, .chl])
    func predictiveCodingRulesLearn(rule: TrainingConfiguration.Rule) throws {
        let data = synthetic(count: 400, seed: 1)
        var trainer = try Trainer<Float>(configuration: predictiveCodingConfiguration(rule: rule), trainingCount: data.count)
        #expect(trainer.freeDynamics is FeedForwardPass<Float>, "the free phase is the feed-forward pass")
        var costs: [Double] = []
        for _ in 0..<5 { costs.append(try trainer.trainEpoch(on: data).cost) }
        let test = try trainer.evaluate(on: synthetic(count: 200, seed: 2))
        #expect(test.error < 0.05, "\(rule): test error \(test.error)")
        #expect(costs.last! < costs.first!, "\(rule): costs \(costs)")
    }

    @Test("A predictive-coding model saves and loads back identically")
    func predictiveCodingArchive() throws {
        let folder = try temporaryFolder()
        let configuration = predictiveCodingConfiguration(rule: .pcNudge)
        let trainer = try Trainer<Float>(configuration: configuration, trainingCount: 0)
        try ModelArchive.save(trainer.energy, configuration: configuration, dataset: "fashion-mnist", to: folder)
        let (energy, loaded, dataset) = try ModelArchive.load(from: folder, as: Float.self)
        #expect(loaded == configuration && energy.parameters == trainer.energy.parameters && dataset == "fashion-mnist")
        #expect(energy.terms.allSatisfy { $0 is PredictionError<Float> })
    }

    @Test("A configuration saved before `rule` and `noise` existed still loads, as EP without noise")
    func configurationCompatibility() throws {
        let legacy = """
            {"layerSizes":[16,8,2],"epochs":1,"batchSize":10,"freeSteps":20,"nudgedSteps":4,"stepSize":0.5,"beta":1,
             "learningRates":[0.2,0.1],"randomSign":true,"nudging":"one-sided","persistentParticles":false,"seed":1}
            """
        let configuration = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(legacy.utf8))
        #expect(configuration.rule == .ep && configuration.noise == 0 && configuration.layerSizes == [16, 8, 2])
        #expect(configuration.energy == .hopfield)
        let roundTrip = try JSONDecoder().decode(TrainingConfiguration.self, from: JSONEncoder().encode(configuration))
        #expect(roundTrip == configuration)
    }

    @Test("A diverging run stops with an error instead of training on NaN")
    func divergence() throws {
        var c = smallConfiguration()
        c.learningRates = [1e38, 1e38]
        c.beta = 1e-3
        let data = synthetic(count: 200, seed: 1)
        var trainer = try Trainer<Float>(configuration: c, trainingCount: data.count)
        #expect(throws: Trainer<Float>.Failure.self) {
            for _ in 0..<3 { _ = try trainer.trainEpoch(on: data) }
        }
    }

    @Test("A saved model loads back identically; a damaged file is refused by name")
    func modelArchive() throws {
        let folder = try temporaryFolder()
        let trainer = try Trainer<Float>(configuration: smallConfiguration(), trainingCount: 0)
        try ModelArchive.save(trainer.energy, configuration: smallConfiguration(), to: folder)
        let (energy, configuration, _) = try ModelArchive.load(from: folder, as: Float.self)
        #expect(configuration == smallConfiguration())
        #expect(energy.parameters == trainer.energy.parameters)
        let weights = folder.appendingPathComponent("W0-1.npy")
        try Data(try Data(contentsOf: weights).dropLast(8)).write(to: weights)
        do {
            _ = try ModelArchive.load(from: folder, as: Float.self)
            Issue.record("a truncated weight file must be refused")
        } catch {
            #expect("\(error)".contains("W0-1.npy"))
        }
    }

    @Test("net1 learns real MNIST: one epoch on 5000 examples", .enabled(if: hasRealData, "needs $EQPROP_DATA"))
    func realMNIST() throws {
        let splits = try DataDirectory(url: realDataDirectory!).load(.mnist, download: false)
        func data(_ images: LabeledImages) -> ClassificationData<Float> {
            ClassificationData(inputs: Matrix(rows: images.count, columns: images.pixelsPerImage, elements: images.pixels.map { Float($0) / 255 }),
                               labels: images.labels.map(Int.init), classCount: 10)
        }
        let train = data(splits.train.prefix(5000)), test = data(splits.test.prefix(2000))
        var trainer = try Trainer<Float>(configuration: net1, trainingCount: train.count)
        let before = try trainer.evaluate(on: test)
        _ = try trainer.trainEpoch(on: train)
        let after = try trainer.evaluate(on: test)
        #expect(before.error > 0.5)
        #expect(after.error < 0.15, "test error after one epoch: \(after.error)")
    }
}
