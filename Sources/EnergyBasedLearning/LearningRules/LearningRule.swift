import LinearAlgebra

/// A learning rule: from a free equilibrium and a target, an estimate of the loss gradient.
///
/// Contrastive rules (EP, CHL) express the estimate as a ``Contrast`` of two states, so that the
/// update `∂E/∂θ(a) − ∂E/∂θ(b)` is local to each term and can be applied in place.
public protocol LearningRule<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    /// The gradient estimate for the free equilibrium `freeState` (free layers relaxed, input clamped).
    func contrast<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G) throws -> Contrast<Scalar>
}

/// The gradient estimate `ĝ = scale · (∂E/∂θ(positive) − ∂E/∂θ(negative))` of a contrastive rule.
public struct Contrast<Scalar: BLASScalar>: Sendable {
    public var positive: NetworkState<Scalar>
    public var negative: NetworkState<Scalar>
    public var scale: Scalar

    public init(positive: NetworkState<Scalar>, negative: NetworkState<Scalar>, scale: Scalar) {
        self.positive = positive
        self.negative = negative
        self.scale = scale
    }

    /// `ĝ` for every term's parameters (summed over the batch), in the order of `energy.terms`.
    public func gradient(of energy: LayeredEnergy<Scalar>) -> [[Matrix<Scalar>]] {
        energy.terms.map { term in
            term.parameterGradientDifference(between: positive, and: negative).map { difference in
                var scaled = difference
                scaled.scale(by: scale)
                return scaled
            }
        }
    }

    /// One step of gradient descent on the batch mean, `θ ← θ − (α_group / batch) · ĝ`, in place.
    public func descend(_ energy: inout LayeredEnergy<Scalar>, learningRates: [Scalar]) {
        let groups = energy.learningRateGroups
        let perExample = scale / Scalar(positive.batchSize)
        for i in energy.terms.indices {
            energy.terms[i].descendContrast(between: positive, and: negative,
                                            stepSize: learningRates[groups[i]] * perExample)
        }
    }
}
