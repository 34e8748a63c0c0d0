import Foundation

/// An IDX file (the MNIST format): a big-endian header `00 00 08 ndim`, `ndim` big-endian
/// 32-bit dimensions, then the unsigned bytes.
public struct IDXArray: Equatable, Sendable {
    public var dimensions: [Int]
    public var bytes: [UInt8]

    /// Magic number of an unsigned-byte IDX file with `dimensions` axes.
    public static func magic(dimensions: Int) -> UInt32 { 0x0000_0800 | UInt32(dimensions) }

    /// Parses IDX content, gzip-compressed or raw, expecting `dimensionCount` axes.
    /// - Parameter file: the name used in errors.
    public init(parsing data: Data, expectingDimensions dimensionCount: Int, file: String) throws {
        let content = Gzip.isCompressed(data) ? try Gzip.decompress(data, file: file) : data
        let bytes = [UInt8](content)
        func word(at offset: Int) -> UInt32 {
            bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }
        let expectedMagic = Self.magic(dimensions: dimensionCount)
        let headerSize = 4 + 4 * dimensionCount
        guard bytes.count >= 4 else {
            throw DatasetError.sizeMismatch(file: file, expectedBytes: headerSize, actualBytes: bytes.count)
        }
        guard word(at: 0) == expectedMagic else {
            throw DatasetError.badMagic(file: file, found: word(at: 0), expected: expectedMagic)
        }
        guard bytes.count >= headerSize else {
            throw DatasetError.sizeMismatch(file: file, expectedBytes: headerSize, actualBytes: bytes.count)
        }
        dimensions = (0..<dimensionCount).map { Int(word(at: 4 + 4 * $0)) }
        let (payload, overflow) = dimensions.reduce((1, false)) { partial, size in
            let (product, overflow) = partial.0.multipliedReportingOverflow(by: size)
            return (product, partial.1 || overflow)
        }
        guard !overflow, headerSize + payload == bytes.count else {
            throw DatasetError.sizeMismatch(file: file, expectedBytes: overflow ? Int.max : headerSize + payload, actualBytes: bytes.count)
        }
        self.bytes = Array(bytes[headerSize...])
    }
}
