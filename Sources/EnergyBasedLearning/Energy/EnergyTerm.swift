import LinearAlgebra

/// One term of an energy `E(s; θ) = Σ_terms E_term(s; θ_term)`: a layer's own term or an
/// interaction between layers.
///
/// A term reads the states of a few layers, owns a few parameters (a weight matrix, a bias),
/// and gives the derivatives a relaxation, a learning rule and a reference gradient need:
/// `∂E_term/∂s_k`, the Hessian-vector product `(∂²E_term/∂s∂s)·v`, `∂E_term/∂θ` and the mixed
/// derivative `(∂²E_term/∂θ∂s)·v`. Energies, dynamics and learning rules only talk to terms
/// through this protocol, so a new term plugs in without touching them.
///
/// Energies are summed over the mini-batch: every derivative with respect to a layer's state is
/// per example (row), every derivative with respect to a parameter is summed over the batch.
public protocol EnergyTerm<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar

    /// A short name for reports and files, e.g. `W0-1` or `b1`.
    var name: String { get }

    /// The layers whose states this term reads.
    var layers: [Int] { get }

    /// The layers whose states `∂E_term/∂s_k` depends on. A relaxation computes the gradient
    /// once, before it starts, when all of them are clamped.
    func stateGradientDependencies(ofLayer k: Int) -> [Int]

    /// `E_term(s)`, summed over the batch.
    func energy(at state: NetworkState<Scalar>) -> Double

    /// `gradient += ∂E_term/∂s_k`.
    func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>)

    /// `gradient_k += ∂E_term/∂s_k` for every layer `k` in `layers` (some of ``layers``). Terms whose
    /// gradients share work — a prediction used by both layers it connects — compute it once
    /// (the default asks ``accumulateStateGradient(ofLayer:at:into:)`` for each layer).
    func accumulateStateGradients(ofLayers layers: [Int], at state: NetworkState<Scalar>, into gradient: inout NetworkState<Scalar>)

    /// `product += Σ_l (∂²E_term/∂s_k∂s_l) · direction_l`, the Hessian-vector product for layer `k`.
    func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>,
        into product: inout Matrix<Scalar>)

    /// The parameters this term owns (e.g. `[W]` or `[b]`).
    var parameters: [Matrix<Scalar>] { get set }

    /// Bounds on the spectral norms of the blocks `∂²E_term/∂s_k∂s_j` of the Hessian, for every
    /// pair of `freeLayers` this term couples, valid at every state (the activations' own
    /// curvature aside); `nil` when the term cannot bound them (the default). The dynamics use them
    /// to keep gradient descent stable (see ``ProjectedGradientDescent/stabilized(for:)``).
    func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]?

    /// The constant `c` such that, every other layer fixed, this term is `½c‖s_k‖²` plus a function
    /// linear in `s_k`, at every state: each unit of layer `k` then sees a one-dimensional quadratic
    /// of curvature `c`, which ``ExactBlockDescent`` minimises exactly over its box. `nil` when the
    /// term is not of that form in `s_k` (the default).
    func layerCurvature(ofLayer k: Int) -> Double?

    /// A name for each parameter, for saved models and checkpoints (the default: the term's name,
    /// with `-i` appended when it owns several).
    var parameterNames: [String] { get }

    /// The shape each parameter has in saved models and checkpoints, whose product is its number of
    /// elements (the default: its matrix's `[rows, columns]`; a convolution's `[C_out, C_in, k, k]`).
    var parameterShapes: [[Int]] { get }

    /// `∂E_term/∂θ`, summed over the batch, one matrix per parameter.
    func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>]

    /// `d/dt ∂E_term/∂θ(s + t·v)` at `t = 0`: the mixed second derivative `(∂²E_term/∂θ∂s)·v`.
    func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>]

    /// `∂E_term/∂θ(a) − ∂E_term/∂θ(b)`, the contrast of every contrastive rule. The default
    /// evaluates both gradients; terms whose two gradients share work override it.
    func parameterGradientDifference(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>) -> [Matrix<Scalar>]

    /// The contrastive step `θ ← θ − η · (∂E_term/∂θ(a) − ∂E_term/∂θ(b))`.
    ///
    /// This is the learning step of every contrastive rule (EP, CHL). The default evaluates
    /// both gradients; terms override it with a fused in-place form.
    mutating func descendContrast(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>, stepSize: Scalar)

    /// This term for relaxations in which `clampedLayers` stay at their values in `state`: a term
    /// may precompute what depends only on them (the default returns the term unchanged).
    func specialized(clamping clampedLayers: Set<Int>, at state: NetworkState<Scalar>) -> any EnergyTerm<Scalar>

    /// A specialised term for the examples (rows) at `rows` only, in that order (the default returns
    /// the term unchanged): a term holding anything per example (a target, a precomputed drive)
    /// keeps those rows of it.
    func restricted(to rows: [Int]) -> any EnergyTerm<Scalar>

    /// This term's part in the feed-forward network its energy becomes as the feedback vanishes (the
    /// zero-feedback limit of a Hopfield energy, see ``FeedForwardChain/limit(of:)``): a weight from
    /// one layer to the next, or a layer's bias; `nil` for a term with no such part (the default).
    var feedForwardPart: FeedForwardPart<Scalar>? { get }

    /// How many places make this term not differentiable at `state` (with `freeLayers` free): a
    /// max-pooling window whose largest entry is tied, say; 0 for a smooth term (the default).
    func kinks(at state: NetworkState<Scalar>, freeLayers: Set<Int>) -> Int
}

/// A bound on the spectral norm of one block `∂²E/∂s_row∂s_column` of an energy's Hessian.
public struct CurvatureBound: Sendable, Equatable {
    public var row: Int
    public var column: Int
    public var norm: Double

    public init(row: Int, column: Int, norm: Double) {
        self.row = row
        self.column = column
        self.norm = norm
    }
}

extension EnergyTerm {
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? { nil }

    public func layerCurvature(ofLayer k: Int) -> Double? { nil }

    public var feedForwardPart: FeedForwardPart<Scalar>? { nil }

    public func kinks(at state: NetworkState<Scalar>, freeLayers: Set<Int>) -> Int { 0 }

    public var parameterNames: [String] {
        parameters.count == 1 ? [name] : parameters.indices.map { "\(name)-\($0)" }
    }

    public var parameterShapes: [[Int]] { parameters.map { [$0.rows, $0.columns] } }

    public func accumulateStateGradients(ofLayers layers: [Int], at state: NetworkState<Scalar>, into gradient: inout NetworkState<Scalar>) {
        for k in layers { accumulateStateGradient(ofLayer: k, at: state, into: &gradient.layers[k]) }
    }

    public func specialized(clamping clampedLayers: Set<Int>, at state: NetworkState<Scalar>) -> any EnergyTerm<Scalar> { self }

    public func restricted(to rows: [Int]) -> any EnergyTerm<Scalar> { self }

    public mutating func descendContrast(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>, stepSize: Scalar) {
        let difference = parameterGradientDifference(between: a, and: b)
        changeParameters { parameters in
            for i in parameters.indices { parameters[i].add(difference[i], scaledBy: -stepSize) }
        }
    }

    /// Lets `change` rewrite the parameters in their own storage. They are moved out of the term
    /// first (which holds empty placeholders meanwhile), so that writing to them copies nothing:
    /// a `get`, change and `set` of ``parameters`` would copy every matrix, the term still
    /// holding the originals.
    public mutating func changeParameters(_ change: (inout [Matrix<Scalar>]) -> Void) {
        var moved = parameters
        parameters = moved.map { _ in Matrix(rows: 0, columns: 0) }
        change(&moved)
        parameters = moved
    }

    public func parameterGradientDifference(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        zip(parameterGradients(at: a), parameterGradients(at: b)).map { $0 - $1 }
    }
}
