/// A dense row-major matrix of `BLASScalar`s.
///
/// In EqProp a layer's state for a mini-batch is a `batch × units` matrix, and a weight
/// between layers of sizes `m` and `n` is an `m × n` matrix, so that the drive into the upper
/// layer is `s_lower · W` and into the lower layer `s_upper · Wᵀ`.
public struct Matrix<Scalar: BLASScalar>: Equatable, Sendable {
    public let rows: Int
    public let columns: Int
    /// Row-major elements: element `(i, j)` is `elements[i * columns + j]`.
    public var elements: [Scalar]

    /// A `rows × columns` matrix with every element equal to `value`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(rows: Int, columns: Int, repeating value: Scalar = 0) {
        precondition(rows >= 0 && columns >= 0, "matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        self.elements = Array(repeating: value, count: rows * columns)
    }

    /// A matrix over given row-major elements; `elements.count` must be `rows * columns`.
    public init(rows: Int, columns: Int, elements: [Scalar]) {
        precondition(elements.count == rows * columns, "expected \(rows * columns) elements, got \(elements.count)")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    public var count: Int { rows * columns }

    public subscript(row: Int, column: Int) -> Scalar {
        get { elements[row * columns + column] }
        set { elements[row * columns + column] = newValue }
    }

    /// The same matrix in another precision.
    public func converted<Other: BLASScalar>(to _: Other.Type = Other.self) -> Matrix<Other> {
        Matrix<Other>(rows: rows, columns: columns, elements: elements.map { Other($0) })
    }

    /// The rows `range` of this matrix, as a new matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, columns: columns,
               elements: Array(elements[(range.lowerBound * columns)..<(range.upperBound * columns)]))
    }

    /// The rows at `indices`, in that order, as a new matrix.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gatheringRows(_ indices: [Int]) -> Matrix {
        var result = Matrix(rows: indices.count, columns: columns)
        let n = columns
        elements.withUnsafeBufferPointer { source in
            result.elements.withUnsafeMutableBufferPointer { target in
                for (i, r) in indices.enumerated() {
                    precondition(r >= 0 && r < rows, "row \(r) of a matrix of \(rows) rows")
                    (target.baseAddress! + i * n).update(from: source.baseAddress! + r * n, count: n)
                }
            }
        }
        return result
    }

    /// Writes the rows of `source` to rows `indices` of `self`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func scatterRows(_ source: Matrix, to indices: [Int]) {
        precondition(source.columns == columns && source.rows == indices.count)
        let n = columns, rows = rows
        source.elements.withUnsafeBufferPointer { source in
            elements.withUnsafeMutableBufferPointer { target in
                for (i, r) in indices.enumerated() {
                    precondition(r >= 0 && r < rows, "row \(r) of a matrix of \(rows) rows")
                    (target.baseAddress! + r * n).update(from: source.baseAddress! + i * n, count: n)
                }
            }
        }
    }

    /// Overwrites every element with `source`'s, in this matrix's storage when it holds that alone:
    /// unlike `self = source`, which shares `source`'s, a later change of `self` copies nothing.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func overwrite(with source: Matrix) {
        precondition(source.rows == rows && source.columns == columns,
                     "a \(source.rows)×\(source.columns) matrix cannot overwrite a \(rows)×\(columns) one")
        // A copy of the elements, not `setRows(startingAt: 0, from:)`: its `replaceSubrange` made
        // net1's epoch 3–9% slower (1.16–1.26 s against 1.13–1.15 s, `bench --epochs 2`, in turn).
        guard count > 0 else { return }
        source.elements.withUnsafeBufferPointer { source in
            elements.withUnsafeMutableBufferPointer { target in
                target.baseAddress!.update(from: source.baseAddress!, count: source.count)
            }
        }
    }

    /// Copies `source` into rows starting at `row`.
    public mutating func setRows(startingAt row: Int, from source: Matrix) {
        precondition(source.columns == columns && row + source.rows <= rows)
        elements.replaceSubrange((row * columns)..<((row + source.rows) * columns), with: source.elements)
    }

    /// Whether every element is finite (no NaN, no ±∞).
    public var isFinite: Bool { allElementsAreFinite() }

    /// Whether every element is zero.
    public var isZero: Bool { allElementsAreZero() }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func allElementsAreZero() -> Bool {
        elements.withUnsafeBufferPointer { buffer in
            var nonZero = false
            for value in buffer { nonZero = nonZero || value != 0 }
            return !nonZero
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func allElementsAreFinite() -> Bool {
        elements.withUnsafeBufferPointer { buffer in
            // A value is ±∞ or NaN exactly when its magnitude's bit pattern is at least +∞'s: the
            // largest pattern is an integer maximum, which vectorises (a sum of floats would not).
            var largest: Scalar.MagnitudeBits = 0
            for value in buffer { largest = Swift.max(largest, value.magnitudeBits) }
            return largest < Scalar.infinity.magnitudeBits
        }
    }
}
