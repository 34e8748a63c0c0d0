import LinearAlgebra

/// A learning rule: from a free equilibrium and a target, an estimate of the loss gradient.
public protocol LearningRule<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    associatedtype Estimate: GradientEstimate<Scalar>
    /// The gradient estimate for the free equilibrium `freeState` (free layers relaxed, input
    /// clamped), drawing any randomness (a sign, noise) from `generator`.
    func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G) throws -> Estimate
}

/// An estimate `ĝ` of `dL/dθ` (summed over a batch), for every term's parameters.
public protocol GradientEstimate<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    /// The number of examples `ĝ` sums over.
    var batchSize: Int { get }
    /// `ĝ` for every term's parameters, in the order of `energy.terms`.
    func gradient(of energy: LayeredEnergy<Scalar>) -> [[Matrix<Scalar>]]
    /// One step of gradient descent on the batch mean, `θ ← θ − (α_group / batch) · ĝ`.
    func descend(_ energy: inout LayeredEnergy<Scalar>, learningRates: [Scalar])
}

extension GradientEstimate {
    public func descend(_ energy: inout LayeredEnergy<Scalar>, learningRates: [Scalar]) {
        let gradient = gradient(of: energy)
        let groups = energy.learningRateGroups
        for i in energy.terms.indices where !gradient[i].isEmpty {
            energy.terms[i].changeParameters { parameters in
                for p in parameters.indices {
                    parameters[p].add(gradient[i][p], scaledBy: -learningRates[groups[i]] / Scalar(batchSize))
                }
            }
        }
    }
}

/// An estimate accumulated into one matrix per parameter.
public struct AccumulatedGradient<Scalar: BLASScalar>: GradientEstimate {
    public var gradients: [[Matrix<Scalar>]]
    public var batchSize: Int

    public init(gradients: [[Matrix<Scalar>]], batchSize: Int) {
        self.gradients = gradients
        self.batchSize = batchSize
    }

    public func gradient(of energy: LayeredEnergy<Scalar>) -> [[Matrix<Scalar>]] { gradients }
}

/// Contrastive rules (EP, CHL) express the estimate as a contrast of two states, so that the
/// update `∂E/∂θ(a) − ∂E/∂θ(b)` is local to each term and can be applied in place.
/// The gradient estimate `ĝ = scale · (∂E/∂θ(positive) − ∂E/∂θ(negative))` of a contrastive rule.
public struct Contrast<Scalar: BLASScalar>: GradientEstimate {
    public var positive: NetworkState<Scalar>
    public var negative: NetworkState<Scalar>
    public var scale: Scalar

    public init(positive: NetworkState<Scalar>, negative: NetworkState<Scalar>, scale: Scalar) {
        self.positive = positive
        self.negative = negative
        self.scale = scale
    }

    public var batchSize: Int { positive.batchSize }

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

    /// One step of gradient descent on the batch mean, `θ ← θ − (α_group / batch) · ĝ`, in place,
    /// by each term's fused contrastive step.
    public func descend(_ energy: inout LayeredEnergy<Scalar>, learningRates: [Scalar]) {
        let groups = energy.learningRateGroups
        let perExample = scale / Scalar(positive.batchSize)
        for i in energy.terms.indices {
            energy.terms[i].descendContrast(between: positive, and: negative,
                                            stepSize: learningRates[groups[i]] * perExample)
        }
    }
}
