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
        for file in dataset.files {
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

    /// A tar member: a 512-byte header (name, size in octal, type) and the content padded to 512 bytes.
    func tarMember(_ name: String, _ content: [UInt8], type: Character = "0") -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        header.replaceSubrange(0..<min(name.utf8.count, 100), with: Array(name.utf8.prefix(100)))
        let size = String(content.count, radix: 8)
        header.replaceSubrange(124..<135, with: Array((String(repeating: "0", count: 11 - size.count) + size).utf8))
        header[156] = type.asciiValue!
        header.replaceSubrange(257..<262, with: Array("ustar".utf8))
        return header + content + [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
    }

    /// CIFAR-10 records: a label, then the image's bytes.
    func cifarRecords(_ labels: [UInt8], seed: Int) -> [UInt8] {
        labels.enumerated().flatMap { index, label in [label] + (0..<3072).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index &* 13 &+ seed) } }
    }

    @Test("A tar archive's regular files are read by their path (also a GNU long name); a cut member is refused")
    func tarArchive() throws {
        let longPath = "cifar-10-batches-bin/" + String(repeating: "x", count: 120) + ".bin"
        let archive = tarMember("cifar-10-batches-bin/", [], type: "5") + tarMember("cifar-10-batches-bin/a.bin", [1, 2, 3])
            + tarMember("././@LongLink", Array(longPath.utf8) + [0], type: "L") + tarMember(String(longPath.prefix(100)), Array(0..<200))
            + tarMember("other.txt", [9]) + [UInt8](repeating: 0, count: 1024)
        let files = try Tar.files(in: Data(archive), named: ["cifar-10-batches-bin/a.bin", longPath, "missing.bin"], file: "test.tar")
        #expect(files == ["cifar-10-batches-bin/a.bin": Data([1, 2, 3]), longPath: Data(Array(0..<200))])
        #expect(throws: DatasetError.corruptArchive(file: "test.tar", reason: "the member at byte 0 announces 600 bytes but the archive ends at 1024 (truncated file)")) {
            try Tar.files(in: Data(tarMember("a.bin", Array(repeating: 1, count: 600)).prefix(1024)), named: ["a.bin"], file: "test.tar")
        }
    }

    @Test("CIFAR-10 batch files: a label byte then 3×32×32 channel-major pixels per record; a cut file or a label ≥ 10 is refused")
    func cifarRecordsParse() throws {
        let records = cifarRecords([3, 9], seed: 0)
        let images = try CIFAR10.images(parsing: Data(records), file: "b.bin")
        #expect(images.labels == [3, 9] && images.pixelsPerImage == 3072 && images.pixels == Array(records[1..<3073] + records[3074...]))
        #expect(throws: DatasetError.self) { try CIFAR10.images(parsing: Data(records.dropLast()), file: "b.bin") }
        #expect(throws: DatasetError.labelOutOfRange(file: "b.bin", index: 1, label: 10, classes: 10)) {
            try CIFAR10.images(parsing: Data(cifarRecords([3, 10], seed: 0)), file: "b.bin")
        }
    }

    @Test("CIFAR-10 is read from the archive's own folder: the five training batches in order, then the test batch; a missing batch is named")
    func cifarLoad() throws {
        let folder = try temporaryFolder()
        let batches = folder.appendingPathComponent("cifar-10-batches-bin")
        try FileManager.default.createDirectory(at: batches, withIntermediateDirectories: true)
        for (index, file) in CIFAR10.files.enumerated() {
            try Data(cifarRecords([UInt8(index), UInt8(9 - index)], seed: index)).write(to: batches.appendingPathComponent(file))
        }
        let splits = try DataDirectory(url: folder).load(.cifar10, download: false)
        #expect(splits.train.count == 10 && splits.train.labels == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5] && splits.test.labels == [5, 4])
        #expect(Array(splits.train.pixels[(3 * 3072)..<(4 * 3072)]) == Array(cifarRecords([0, 0], seed: 1)[3074...]))
        try FileManager.default.removeItem(at: batches.appendingPathComponent("data_batch_3.bin"))
        #expect(throws: DatasetError.self) { try DataDirectory(url: folder).load(.cifar10, download: false) }
        do {
            _ = try DataDirectory(url: folder).load(.cifar10, download: false)
        } catch {
            #expect("\(error)".contains("cifar-10/data_batch_3.bin"), "\(error)")
        }
    }
}
