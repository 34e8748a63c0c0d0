import Crypto
import Foundation

/// The binary version of CIFAR-10 (Krizhevsky 2009): 32×32 colour images in 10 classes, 50,000 for
/// training in five batch files and 10,000 for testing. Each record is a label byte followed by
/// the image's 1,024 red, then green, then blue bytes, row by row: the image is `3×32×32`,
/// channel-major, as a convolutional input layer `3x32x32` reads it.
public enum CIFAR10 {
    /// The canonical archive, its size and the MD5 its authors publish.
    public static let archive = "cifar-10-binary.tar.gz"
    public static let archiveBytes = 170_052_171
    public static let archiveMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
    public static let mirrors = [URL(string: "https://www.cs.toronto.edu/~kriz/")!]
    /// The folder the archive's files are in.
    public static let archiveFolder = "cifar-10-batches-bin"

    /// The batch files, training first.
    public static let trainingFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFile = "test_batch.bin"
    public static var files: [String] { trainingFiles + [testFile] }

    public static let pixelsPerImage = 3 * 32 * 32
    public static let imagesPerFile = 10_000
    static var recordBytes: Int { 1 + pixelsPerImage }

    /// The images of one batch file's content.
    /// - Throws: a ``DatasetError`` naming `file` if its size is not a whole number of records or a
    ///   label is not a class.
    public static func images(parsing data: Data, file: String) throws -> LabeledImages {
        guard data.count % recordBytes == 0, data.count > 0 else {
            throw DatasetError.unreadable(file: file, reason: "\(data.count) bytes is not a whole number of CIFAR-10 records of \(recordBytes) bytes (truncated or not a batch file)")
        }
        let count = data.count / recordBytes
        var labels = [UInt8](repeating: 0, count: count)
        var pixels = [UInt8](repeating: 0, count: count * pixelsPerImage)
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            pixels.withUnsafeMutableBytes { target in
                for record in 0..<count {
                    labels[record] = raw[record * recordBytes]
                    target.baseAddress!.advanced(by: record * pixelsPerImage)
                        .copyMemory(from: raw.baseAddress!.advanced(by: record * recordBytes + 1), byteCount: pixelsPerImage)
                }
            }
        }
        if let bad = labels.firstIndex(where: { $0 >= 10 }) {
            throw DatasetError.labelOutOfRange(file: file, index: bad, label: Int(labels[bad]), classes: 10)
        }
        return LabeledImages(pixels: pixels, labels: labels, pixelsPerImage: pixelsPerImage, classCount: 10)
    }

    /// The MD5 of `data`, in hexadecimal.
    public static func md5(_ data: Data) -> String {
        Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Checks `archive`'s MD5 against `expected` (default: the published one), then writes its six
    /// batch files into `folder`, each through a `.partial` file renamed into place.
    /// - Throws: a ``DatasetError`` naming `source` if the checksum differs or a batch file is missing.
    public static func extract(_ archive: Data, into folder: URL, source: String, expectedMD5: String = archiveMD5) throws {
        let actual = md5(archive)
        guard actual == expectedMD5.lowercased() else {
            throw DatasetError.checksumMismatch(file: source, algorithm: "MD5", expected: expectedMD5, actual: actual)
        }
        let members = try Tar.files(in: try Gzip.decompress(archive, file: source), named: Set(files.map { "\(archiveFolder)/\($0)" }), file: source)
        for file in files {
            guard let content = members["\(archiveFolder)/\(file)"] else {
                throw DatasetError.corruptArchive(file: source, reason: "no member \(archiveFolder)/\(file)")
            }
            _ = try images(parsing: content, file: "\(source): \(archiveFolder)/\(file)")
            let destination = folder.appendingPathComponent(file), partial = destination.appendingPathExtension("partial")
            do {
                try content.write(to: partial)
            } catch {
                throw DatasetError.unreadable(file: partial.path, reason: "cannot write: \(error.localizedDescription)")
            }
            guard rename(partial.path, destination.path) == 0 else {
                throw DatasetError.unreadable(file: destination.path, reason: "cannot move the extracted file into place")
            }
        }
    }
}
