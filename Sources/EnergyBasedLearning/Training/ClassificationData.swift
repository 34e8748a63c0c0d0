import LinearAlgebra

/// Inputs, labels and one-hot targets of a classification data set.
public struct ClassificationData<Scalar: BLASScalar>: Sendable {
    /// `count × features`.
    public var inputs: Matrix<Scalar>
    public var labels: [Int]
    /// `count × classes`, one-hot.
    public var targets: Matrix<Scalar>

    public init(inputs: Matrix<Scalar>, labels: [Int], classCount: Int) {
        precondition(inputs.rows == labels.count, "one label per input row")
        self.inputs = inputs
        self.labels = labels
        targets = Matrix(rows: labels.count, columns: classCount)
        for (i, label) in labels.enumerated() { targets[i, label] = 1 }
    }

    public var count: Int { labels.count }
}

extension Matrix {
    /// The rows at `indices`, in that order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gatheringRows(_ indices: [Int]) -> Matrix {
        var result = Matrix(rows: indices.count, columns: columns)
        let n = columns
        elements.withUnsafeBufferPointer { source in
            result.elements.withUnsafeMutableBufferPointer { target in
                for (r, index) in indices.enumerated() {
                    target.baseAddress!.advanced(by: r * n).update(from: source.baseAddress!.advanced(by: index * n), count: n)
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
        let n = columns
        source.elements.withUnsafeBufferPointer { from in
            elements.withUnsafeMutableBufferPointer { target in
                for (r, index) in indices.enumerated() {
                    target.baseAddress!.advanced(by: index * n).update(from: from.baseAddress!.advanced(by: r * n), count: n)
                }
            }
        }
    }
}
