import SystemZlib
import Foundation

/// Decompression of gzip (or zlib) data with zlib's `inflate`.
public enum Gzip {
    /// Whether `data` starts with the gzip magic bytes `1f 8b`.
    public static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// The decompressed bytes of a complete gzip stream.
    /// - Throws: ``DatasetError/corruptCompression(file:reason:)`` naming `file`.
    public static func decompress(_ data: Data, file: String) throws -> Data {
        var stream = z_stream()
        // 15 window bits + 32: detect a gzip or zlib header automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError.corruptCompression(file: file, reason: "zlib could not be initialised")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let status: Int32 = data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            var status = Z_OK
            repeat {
                status = chunk.withUnsafeMutableBufferPointer { buffer -> Int32 in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    output.append(buffer.baseAddress!, count: buffer.count - Int(stream.avail_out))
                    return result
                }
            } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
            return status
        }
        switch status {
        case Z_STREAM_END:
            return output
        case Z_OK, Z_BUF_ERROR:
            throw DatasetError.corruptCompression(file: file, reason: "the gzip stream ends early (truncated file)")
        default:
            let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
            throw DatasetError.corruptCompression(file: file, reason: message)
        }
    }
}
