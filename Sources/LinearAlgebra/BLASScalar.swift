import COpenBLAS
import RealModule

/// A floating-point type that OpenBLAS can multiply: `Float` (training) or `Double` (checks).
///
/// Every numerical routine in EqProp is generic over `BLASScalar`, so the same code path
/// trains in single precision and verifies theorems in double precision.
public protocol BLASScalar: Real, BinaryFloatingPoint, SIMDScalar, Codable, Sendable
where RawSignificand: FixedWidthInteger {
    /// C ← α·op(A)·op(B) + β·C on row-major buffers (`cblas_?gemm`).
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// An unsigned integer as wide as the type.
    associatedtype MagnitudeBits: FixedWidthInteger & UnsignedInteger & Sendable
    /// The bit pattern of `|x|`. Non-negative floats are ordered as their bit patterns are, so a
    /// running maximum of `|x|` can be taken over these integers, which vectorises where a
    /// floating-point maximum (with its NaN rules) does not.
    var magnitudeBits: MagnitudeBits { get }
    /// The non-negative value whose bit pattern is `magnitudeBits`.
    init(magnitudeBits: MagnitudeBits)
}

@inline(__always)
private func cblasTranspose(_ flag: Bool) -> CBLAS_TRANSPOSE {
    flag ? CblasTrans : CblasNoTrans
}

extension Float: BLASScalar {
    public var magnitudeBits: UInt32 { bitPattern & 0x7fff_ffff }
    public init(magnitudeBits: UInt32) { self.init(bitPattern: magnitudeBits) }

    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Double: BLASScalar {
    public var magnitudeBits: UInt64 { bitPattern & 0x7fff_ffff_ffff_ffff }
    public init(magnitudeBits: UInt64) { self.init(bitPattern: magnitudeBits) }

    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// The OpenBLAS build in use.
public enum BLAS {
    /// The CPU kernel OpenBLAS selected (e.g. `"SkylakeX"`, `"Haswell"`, `"Prescott"`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The threads OpenBLAS uses for one call.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// Runs `body` with OpenBLAS using `count` threads, then restores the previous count.
    public static func withThreadCount<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
        let previous = threadCount
        threadCount = count
        defer { threadCount = previous }
        return try body()
    }
}
