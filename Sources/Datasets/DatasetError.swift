import Foundation

/// Why a data set could not be read. Every case names the file and what was expected.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case missingFiles([String], searched: [String], downloadFailure: String?)
    case unreadable(file: String, reason: String)
    case corruptCompression(file: String, reason: String)
    case badMagic(file: String, found: UInt32, expected: UInt32)
    case sizeMismatch(file: String, expectedBytes: Int, actualBytes: Int)
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
    case labelOutOfRange(file: String, index: Int, label: Int, classes: Int)
    case checksumMismatch(file: String, algorithm: String, expected: String, actual: String)
    case corruptArchive(file: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFiles(files, searched, downloadFailure):
            var text = "missing data files: \(files.joined(separator: ", ")); looked in: \(searched.joined(separator: ", ")). "
            text += "Set --data-dir or EQPROP_DATA to a folder holding them, or run with network access to download them"
            if let downloadFailure { text += " (download failed: \(downloadFailure))" }
            return text
        case let .unreadable(file, reason):
            return "\(file): cannot be read: \(reason)"
        case let .corruptCompression(file, reason):
            return "\(file): corrupt gzip data: \(reason)"
        case let .badMagic(file, found, expected):
            return "\(file): not an IDX file of the expected kind: magic number 0x\(String(found, radix: 16)), expected 0x\(String(expected, radix: 16).leftPadded(to: 8))"
        case let .sizeMismatch(file, expected, actual):
            return "\(file): the IDX header announces \(expected) bytes but the content holds \(actual) (truncated or corrupt file)"
        case let .countMismatch(images, imageCount, labels, labelCount):
            return "\(images) holds \(imageCount) images but \(labels) holds \(labelCount) labels"
        case let .labelOutOfRange(file, index, label, classes):
            return "\(file): label \(label) at index \(index) is outside 0..<\(classes)"
        case let .checksumMismatch(file, algorithm, expected, actual):
            return "\(file): \(algorithm) is \(actual), expected \(expected)"
        case let .corruptArchive(file, reason):
            return "\(file): not the expected tar archive: \(reason)"
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
