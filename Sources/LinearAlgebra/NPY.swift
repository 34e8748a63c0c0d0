import Foundation

/// Reading and writing matrices as NumPy `.npy` files (format version 1.0, little-endian,
/// C order), so that `numpy.load` opens what EqProp writes.
public enum NPY {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(file: String, reason: String)

        public var description: String {
            switch self {
            case let .malformed(file, reason): return "\(file): not a readable .npy matrix: \(reason)"
            }
        }
    }

    static func descriptor<Scalar: BLASScalar>(_: Scalar.Type) -> String {
        Scalar.self == Double.self ? "<f8" : "<f4"
    }

    /// The `.npy` bytes of `matrix`, as an array of `shape` (its rows and columns by default; any
    /// shape of as many elements in C order, such as a convolution's `[C_out, C_in, k, k]`).
    public static func encode<Scalar: BLASScalar>(_ matrix: Matrix<Scalar>, shape: [Int]? = nil) -> Data {
        let shape = shape ?? [matrix.rows, matrix.columns]
        precondition(shape.count >= 2 && shape.reduce(1, *) == matrix.count, "the shape \(shape) does not hold \(matrix.count) elements")
        var header = "{'descr': '\(descriptor(Scalar.self))', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        matrix.elements.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// A matrix from `.npy` bytes holding a little-endian array of `Scalar` in C order, of two or more
    /// dimensions: its first dimension gives the rows, the others together the columns.
    public static func decode<Scalar: BLASScalar>(_ data: Data, as _: Scalar.Type = Scalar.self, file: String) throws -> Matrix<Scalar> {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw Failure.malformed(file: file, reason: "missing the \\x93NUMPY magic")
        }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        guard bytes[6] == 1, bytes.count >= 10 + headerLength,
              let header = String(bytes: bytes[10..<(10 + headerLength)], encoding: .ascii) else {
            throw Failure.malformed(file: file, reason: "unsupported version or truncated header")
        }
        guard header.contains("'descr': '\(descriptor(Scalar.self))'"), header.contains("'fortran_order': False") else {
            throw Failure.malformed(file: file, reason: "expected dtype \(descriptor(Scalar.self)) in C order, header \(header)")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw Failure.malformed(file: file, reason: "no shape in header")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard shape.count >= 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw Failure.malformed(file: file, reason: "expected a shape of 2 or more dimensions, got (\(header[open.upperBound..<close]))")
        }
        let payload = bytes.count - 10 - headerLength
        var (columns, overflow) = (1, false)
        for dimension in shape.dropFirst() where !overflow { (columns, overflow) = columns.multipliedReportingOverflow(by: dimension) }
        var count = 0
        if !overflow { (count, overflow) = shape[0].multipliedReportingOverflow(by: columns) }
        guard !overflow, payload == count * MemoryLayout<Scalar>.size else {
            throw Failure.malformed(file: file, reason: "shape \(shape) needs \(count * MemoryLayout<Scalar>.size) bytes of data, found \(payload)")
        }
        var elements = [Scalar](repeating: 0, count: count)
        elements.withUnsafeMutableBytes { target in
            bytes.withUnsafeBytes { source in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[(10 + headerLength)...]))
            }
        }
        return Matrix(rows: shape[0], columns: columns, elements: elements)
    }
}
