import Datasets
import Foundation
import Testing

@Suite("Data sets")
struct DatasetTests {
    func idx(magic: UInt32, dimensions: [UInt32], payload: [UInt8]) -> Data {
        var bytes: [UInt8] = []
        for word in [magic] + dimensions { bytes += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> $0) } }
        return Data(bytes + payload)
    }

    func write(_ images: Data, _ labels: Data) throws -> (URL, URL) {
        let folder = try temporaryFolder()
        let imageURL = folder.appendingPathComponent("images-idx3-ubyte"), labelURL = folder.appendingPathComponent("labels-idx1-ubyte")
        try images.write(to: imageURL)
        try labels.write(to: labelURL)
        return (imageURL, labelURL)
    }

    @Test("A raw IDX pair parses")
    func rawIDX() throws {
        let (images, labels) = try write(idx(magic: 0x803, dimensions: [2, 2, 3], payload: Array(0..<12)),
                                         idx(magic: 0x801, dimensions: [2], payload: [3, 7]))
        let data = try LabeledImages(imagesFile: images, labelsFile: labels)
        #expect(data.count == 2 && data.pixelsPerImage == 6 && data.labels == [3, 7] && data.pixels == Array(0..<12))
    }

    @Test("Bad IDX files are refused with the file and the reason")
    func badIDX() throws {
        let labels = idx(magic: 0x801, dimensions: [2], payload: [3, 7])
        let cases: [(Data, Data, String)] = [
            (idx(magic: 0x801, dimensions: [2, 2, 3], payload: Array(0..<12)), labels, "magic number 0x801"),
            (idx(magic: 0x803, dimensions: [2, 2, 3], payload: Array(0..<11)), labels, "announces 28 bytes but the content holds 27"),
            (idx(magic: 0x803, dimensions: [2, 2, 3], payload: Array(0..<12)), idx(magic: 0x801, dimensions: [3], payload: [1, 2, 3]), "holds 2 images but"),
            (idx(magic: 0x803, dimensions: [2, 2, 3], payload: Array(0..<12)), idx(magic: 0x801, dimensions: [2], payload: [1, 12]), "label 12 at index 1"),
            (Data([0, 0]), labels, "announces"),
        ]
        for (images, labelData, fragment) in cases {
            let (imageURL, labelURL) = try write(images, labelData)
            do {
                _ = try LabeledImages(imagesFile: imageURL, labelsFile: labelURL)
                Issue.record("expected an error containing \(fragment)")
            } catch let error as DatasetError {
                #expect(error.description.contains(fragment), "\(error)")
                #expect(error.description.contains("-idx"), "the message names the file: \(error)")
            }
        }
    }

    @Test("Missing files: the error lists them and where they were looked for")
    func missing() throws {
        let folder = try temporaryFolder()
        do {
            _ = try DataDirectory(url: folder).load(.fashionMNIST, download: false)
            Issue.record("expected missing files")
        } catch let error as DatasetError {
            #expect(error.description.contains("fashion-mnist/train-images-idx3-ubyte.gz"))
            #expect(error.description.contains(folder.path))
            #expect(error.description.contains("EQPROP_DATA"))
        }
    }

    @Test("The data directory comes from the flag, then EQPROP_DATA, then the user's cache")
    func directoryResolution() {
        #expect(DataDirectory.resolve(flag: "/a", environment: ["EQPROP_DATA": "/b"]).url.path == "/a")
        #expect(DataDirectory.resolve(flag: nil, environment: ["EQPROP_DATA": "/b"]).url.path == "/b")
        #expect(DataDirectory.resolve(flag: nil, environment: ["HOME": "/home/u"]).url.path == "/home/u/.cache/eqprop/data")
    }

    @Test("Real MNIST and Fashion-MNIST: counts, checksums of the content, pixel statistics", .enabled(if: hasRealData, "needs $EQPROP_DATA"),
          arguments: [(DatasetName.mnist, 0.1307), (.fashionMNIST, 0.2860)])
    func realData(dataset: DatasetName, mean: Double) throws {
        let directory = DataDirectory(url: realDataDirectory!)
        let splits = try directory.load(dataset, download: false)
        #expect(splits.train.count == 60000 && splits.test.count == 10000 && splits.train.pixelsPerImage == 784)
        let pixelMean = splits.train.pixels.reduce(0) { $0 + Double($1) } / Double(splits.train.pixels.count) / 255
        #expect(abs(pixelMean - mean) < 1e-4)
        for file in DatasetName.fileNames {
            let url = directory.candidates(for: file, of: dataset).first { FileManager.default.fileExists(atPath: $0.path) }!
            try directory.verify(Data(contentsOf: url), file: file, of: dataset, source: url.path)
        }
    }

    @Test("Truncated and corrupted gzip files are refused", .enabled(if: hasRealData, "needs $EQPROP_DATA"))
    func corruptGzip() throws {
        let original = try Data(contentsOf: realDataDirectory!.appendingPathComponent("mnist/t10k-labels-idx1-ubyte.gz"))
        var flipped = original
        flipped[flipped.count / 2] ^= 0xff
        for (damaged, fragment) in [(original.prefix(original.count - 100), "truncated"), (flipped, "corrupt gzip")] {
            #expect(throws: DatasetError.self) { try IDXArray(parsing: Data(damaged), expectingDimensions: 1, file: "labels.gz") }
            do {
                _ = try IDXArray(parsing: Data(damaged), expectingDimensions: 1, file: "labels.gz")
            } catch {
                #expect("\(error)".contains(fragment) || "\(error)".contains("corrupt"), "\(error)")
            }
        }
    }

    @Test("Download: files are fetched from a mirror and verified; a corrupted file is rejected and not kept",
          .enabled(if: hasRealData, "needs $EQPROP_DATA"))
    func download() throws {
        let mirror = realDataDirectory!.appendingPathComponent("mnist/")
        let target = try temporaryFolder()
        try DataDirectory(url: target).fetch(["t10k-labels-idx1-ubyte.gz"], of: .mnist, mirrors: [mirror])
        #expect(FileManager.default.fileExists(atPath: target.appendingPathComponent("mnist/t10k-labels-idx1-ubyte.gz").path))

        let badMirror = try temporaryFolder()
        var bytes = try Data(contentsOf: mirror.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        bytes = Data(bytes.prefix(bytes.count))
        let raw = try IDXArray(parsing: bytes, expectingDimensions: 1, file: "labels")
        var tampered = raw.bytes
        tampered[0] = (tampered[0] + 1) % 10
        var content = Data([0, 0, 8, 1]) + Data([0, 0, 0x27, 0x10])
        content.append(contentsOf: tampered)
        try content.write(to: badMirror.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let second = try temporaryFolder()
        #expect(throws: DatasetError.self) {
            try DataDirectory(url: second).fetch(["t10k-labels-idx1-ubyte.gz"], of: .mnist, mirrors: [badMirror])
        }
        #expect(!FileManager.default.fileExists(atPath: second.appendingPathComponent("mnist/t10k-labels-idx1-ubyte.gz").path))
    }
}
