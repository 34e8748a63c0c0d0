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

