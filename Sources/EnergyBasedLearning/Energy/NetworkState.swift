import LinearAlgebra

/// The states of every layer of a layered network for one mini-batch.
///
/// `layers[k]` is a `batch × size(k)` matrix; `layers[0]` is the input layer.
public struct NetworkState<Scalar: BLASScalar>: Equatable, Sendable {
    public var layers: [Matrix<Scalar>]

    public init(layers: [Matrix<Scalar>]) {
        precondition(layers.allSatisfy { $0.rows == layers.first?.rows }, "every layer needs the same batch size")
        self.layers = layers
    }

    /// The input layer clamped to `input` and every other layer at `0`.
    public init(input: Matrix<Scalar>, layerSizes: [Int]) {
        precondition(input.columns == layerSizes.first, "input has \(input.columns) columns, layer 0 has \(layerSizes.first ?? 0) units")
        layers = [input] + layerSizes.dropFirst().map { Matrix(rows: input.rows, columns: $0) }
    }

    /// A state of zeros with the shape of `other`.
    public init(zerosLike other: NetworkState) {
        layers = other.layers.map { Matrix(rows: $0.rows, columns: $0.columns) }
    }

    public var batchSize: Int { layers.first?.rows ?? 0 }

    /// The last layer, read out as the network's prediction.
    public var output: Matrix<Scalar> { layers[layers.count - 1] }

    /// The states of the examples in `rows`.
    public func rows(_ rows: Range<Int>) -> NetworkState {
        NetworkState(layers: layers.map { $0.rows(rows) })
    }

    /// The states of the examples at `indices`, in that order.
    public func rows(_ indices: [Int]) -> NetworkState {
        NetworkState(layers: layers.map { $0.gatheringRows(indices) })
    }

    /// Overwrites example `indices[i]` with example `i` of `part`, in the layers `chosen` (all when
    /// `nil`; a relaxation writes back only its free layers, so that a clamped input keeps sharing
    /// its storage with the states it came from).
    public mutating func setRows(_ indices: [Int], from part: NetworkState, layers chosen: [Int]? = nil) {
        for k in chosen ?? Array(layers.indices) { layers[k].scatterRows(part.layers[k], to: indices) }
    }

    /// Overwrites the examples from `row` on with `part`, in the layers `chosen` (all when `nil`).
    public mutating func setRows(startingAt row: Int, from part: NetworkState, layers chosen: [Int]? = nil) {
        for k in chosen ?? Array(layers.indices) { layers[k].setRows(startingAt: row, from: part.layers[k]) }
    }

    /// Whether every state is finite.
    public var isFinite: Bool { layers.allSatisfy(\.isFinite) }
}

/// Arithmetic on states as vectors (all layers, all examples).
extension NetworkState {
    /// Σ over layers and units of `self · other`.
    public func dot(_ other: NetworkState) -> Double {
        zip(layers, other.layers).reduce(0) { $0 + $1.0.dot($1.1) }
    }

    /// `self ← self + factor · other`.
    public mutating func add(_ other: NetworkState, scaledBy factor: Scalar = 1) {
        for k in layers.indices { layers[k].add(other.layers[k], scaledBy: factor) }
    }

    /// `self ← factor · self`.
    public mutating func scale(by factor: Scalar) {
        for k in layers.indices { layers[k].scale(by: factor) }
    }

    /// Element-wise product with `mask`.
    public mutating func multiply(by mask: NetworkState) {
        for k in layers.indices { layers[k].multiply(elementwiseBy: mask.layers[k]) }
    }
}
