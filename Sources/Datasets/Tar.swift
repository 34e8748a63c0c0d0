import Foundation

/// The regular files of a tar archive (POSIX ustar or GNU), read from its bytes: each member is a
/// 512-byte header (name, octal size, type) followed by its content padded to 512 bytes; two zero
/// blocks end the archive.
public enum Tar {
    /// The regular files of `archive` whose path is in `wanted`, by path.
    /// - Throws: ``DatasetError/corruptArchive(file:reason:)`` naming `file` when a header or a
    ///   member is cut short or a size is not a number.
    public static func files(in archive: Data, named wanted: Set<String>, file: String) throws -> [String: Data] {
        let bytes = [UInt8](archive)
        var found: [String: Data] = [:]
        var offset = 0
        var longName: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }
            func text(_ start: Int, _ length: Int) -> String {
                let field = header[(offset + start)..<(offset + start + length)]
                return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
            }
            let sizeField = text(124, 12).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeField.isEmpty ? "0" : sizeField, radix: 8) else {
                throw DatasetError.corruptArchive(file: file, reason: "the member at byte \(offset) has the size field '\(sizeField)'")
            }
            let start = offset + 512
            guard start + size <= bytes.count else {
                throw DatasetError.corruptArchive(file: file, reason: "the member at byte \(offset) announces \(size) bytes but the archive ends at \(bytes.count) (truncated file)")
            }
            let type = header[offset + 156]
            let prefix = text(345, 155)
            let path = longName ?? (prefix.isEmpty ? text(0, 100) : prefix + "/" + text(0, 100))
            longName = nil
            switch type {
            case UInt8(ascii: "L"):
                // GNU: the next member's name, too long for its header.
                longName = String(decoding: bytes[start..<(start + size)].prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "0"), 0:
                if wanted.contains(path) { found[path] = Data(bytes[start..<(start + size)]) }
            default:
                break
            }
            offset = start + (size + 511) / 512 * 512
        }
        return found
    }
}
