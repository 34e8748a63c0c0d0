import LinearAlgebra

/// How a network relaxes (the run file's `dynamics` section): for the free phase and for every rule's
/// second phase, projected gradient descent with step `ε` (``ProjectedGradientDescent``) or exact
/// block coordinate descent (``ExactBlockDescent``); the feed-forward pass for the free phase of the
/// predictive-coding energy. The second phase may relax otherwise than the free phase
/// (``secondPhaseMinimizer``): say, a free phase minimised exactly, then the few nudged steps of
/// gradient descent of Scellier & Bengio (2017).
public struct DynamicsSpecification: Codable, Sendable, Equatable {
    /// The minimiser each phase runs (`dynamics.minimizer`).
    public enum Minimizer: String, Codable, Sendable, CaseIterable {
        /// ``ProjectedGradientDescent`` with step `ε`.
        case gradientDescent = "gradient-descent"
        /// ``ExactBlockDescent``: each layer set to its exact minimiser, the even then the odd layers.
        case exactBlock = "exact-block"
    }

    /// The free phase's minimiser, and the second phase's unless ``secondPhaseMinimizer`` is set.
    public var minimizer: Minimizer
    /// The second phase's minimiser when it is not ``minimizer`` (`dynamics.nudged-minimizer`).
    public var secondPhaseMinimizer: Minimizer?
    /// The step `ε` of gradient descent (`nil` for the exact block minimiser, which takes no step).
    public var stepSize: Double?
    /// The over-relaxation factor `ω` of the exact block minimiser (`nil`: 1).
    public var overrelaxation: Double?
    /// Steps of the free phase (`n_it_neg` in the code of Scellier & Bengio; sweeps of the exact block
    /// minimiser); `nil` on an energy whose free phase is the feed-forward pass.
    public var freeSteps: Int?
    /// Steps of the second phase: each nudged phase (`n_it_pos`), the clamped phase, PC's inference;
    /// the steps backpropagated through (`tbp`) or the iterations of the adjoint (`rbp`).
    public var nudgedSteps: Int
    /// Relax each phase until no unit moves by more than this in a step, `freeSteps` and
    /// `nudgedSteps` being then the caps (`nil`: always those steps).
    public var tolerance: Double?
    /// The Langevin noise level `σ` of the second phase (0: deterministic).
    public var noise: Double
    /// Cap each layer's step by the energy's curvature at the current weights
    /// (``ProjectedGradientDescent/stabilizesSteps``), so that inference stays stable as weights grow.
    public var stableSteps: Bool
    /// Start each training example's free phase from its previous fixed point.
    public var persistentParticles: Bool

    public init(minimizer: Minimizer = .gradientDescent, secondPhaseMinimizer: Minimizer? = nil, stepSize: Double?, overrelaxation: Double? = nil,
                freeSteps: Int?, nudgedSteps: Int, tolerance: Double? = nil, noise: Double = 0, stableSteps: Bool = false,
                persistentParticles: Bool = false) {
        self.minimizer = minimizer
        self.secondPhaseMinimizer = secondPhaseMinimizer
        self.stepSize = stepSize
        self.overrelaxation = overrelaxation
        self.freeSteps = freeSteps
        self.nudgedSteps = nudgedSteps
        self.tolerance = tolerance
        self.noise = noise
        self.stableSteps = stableSteps
        self.persistentParticles = persistentParticles
    }

    /// The second phase's minimiser.
    public var secondPhase: Minimizer { secondPhaseMinimizer ?? minimizer }

    /// Each phase's minimiser, with the run-file key that sets it: the free phase's, then the second
    /// phase's.
    public var phaseMinimizers: [(minimizer: Minimizer, key: String)] {
        [(minimizer, "dynamics.minimizer"), (secondPhase, "dynamics.nudged-minimizer")]
    }

    /// The minimisers the two phases use.
    public var minimizers: Set<Minimizer> { Set(phaseMinimizers.map(\.minimizer)) }

    /// `ε 0.5`, `exact-block`, `exact-block ω 1.5`, `exact-block, nudged ε 0.5`: the minimisers and
    /// their settings, for summaries.
    public var minimizerSummary: String {
        func summary(_ minimizer: Minimizer) -> String {
            switch minimizer {
            case .gradientDescent: "ε \(stepSize ?? 0)"
            case .exactBlock: "exact-block" + (overrelaxation.map { " ω \($0)" } ?? "")
            }
        }
        return summary(minimizer) + (secondPhase == minimizer ? "" : ", nudged \(summary(secondPhase))")
    }

    private enum CodingKeys: String, CodingKey {
        case minimizer, secondPhaseMinimizer, stepSize, overrelaxation, freeSteps, nudgedSteps, tolerance, noise, stableSteps, persistentParticles
    }

    /// Reads what `encode(to:)` writes; descriptions written before the minimiser could be chosen
    /// (saved models, checkpoints) are gradient descent.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(minimizer: try c.decodeIfPresent(Minimizer.self, forKey: .minimizer) ?? .gradientDescent,
                  secondPhaseMinimizer: try c.decodeIfPresent(Minimizer.self, forKey: .secondPhaseMinimizer),
                  stepSize: try c.decodeIfPresent(Double.self, forKey: .stepSize),
                  overrelaxation: try c.decodeIfPresent(Double.self, forKey: .overrelaxation),
                  freeSteps: try c.decodeIfPresent(Int.self, forKey: .freeSteps), nudgedSteps: try c.decode(Int.self, forKey: .nudgedSteps),
                  tolerance: try c.decodeIfPresent(Double.self, forKey: .tolerance), noise: try c.decode(Double.self, forKey: .noise),
                  stableSteps: try c.decode(Bool.self, forKey: .stableSteps), persistentParticles: try c.decode(Bool.self, forKey: .persistentParticles))
    }

    /// Throws a ``SpecificationError`` naming the first setting that cannot be, on `energy`.
    public func validate(energy: EnergySpecification) throws {
        if minimizers.contains(.gradientDescent) {
            guard let stepSize else { throw SpecificationError(key: "dynamics.epsilon", message: "missing: gradient descent needs a step size ε") }
            try require(stepSize > 0 && stepSize.isFinite, "dynamics.epsilon", "a positive finite step size", stepSize)
        } else if let stepSize {
            throw SpecificationError(key: "dynamics.epsilon", expected: "no step size with the exact-block minimizer (each layer goes to its minimum; "
                                     + "its over-relaxation ω is dynamics.overrelaxation)", value: stepSize)
        }
        if minimizers.contains(.exactBlock) {
            let omega = overrelaxation ?? 1
            try require(omega > 0 && omega < 2, "dynamics.overrelaxation", "an over-relaxation factor ω in (0, 2)", omega)
            try require(energy == .hopfield, "energy.kind",
                        "hopfield with the exact-block minimizer (the pc energy is not quadratic layer by layer: f(x·W + b) with a non-linear f)", energy.kind.rawValue)
            try require(!stableSteps || minimizers.contains(.gradientDescent), "dynamics.stable-steps",
                        "false with the exact-block minimizer in both phases (it takes no step to cap: every half-sweep lowers the energy)", true)
        } else if let overrelaxation {
            throw SpecificationError(key: "dynamics.overrelaxation", expected: "no over-relaxation with gradient descent (it is the exact-block minimizer's ω)",
                                     value: overrelaxation)
        }
        if secondPhase == .exactBlock {
            try require(noise == 0, "dynamics.noise", "0 with the exact-block minimizer (Langevin noise is a gradient-descent dynamics)", noise)
        }
        if energy.hasFeedForwardFreePhase {
            try require(freeSteps == nil, "dynamics.free-steps",
                        "no free steps on the \(energy.kind.rawValue) energy (its free phase is the feed-forward pass, exact)", freeSteps ?? 0)
            try require(!persistentParticles, "dynamics.persistent-particles",
                        "false on the \(energy.kind.rawValue) energy (the feed-forward free phase does not start from a state)", true)
        } else {
            try require((freeSteps ?? 0) > 0, "dynamics.free-steps", "a positive number of free steps", freeSteps.map(String.init) ?? "none")
        }
        try require(nudgedSteps > 0, "dynamics.nudged-steps", "a positive number", nudgedSteps)
        try require(noise >= 0 && noise.isFinite, "dynamics.noise", "a finite noise level σ ≥ 0", noise)
        if let tolerance { try require(tolerance > 0 && tolerance.isFinite, "dynamics.tolerance", "a positive finite tolerance", tolerance) }
    }

    /// The free phase's dynamics on `energy`: the feed-forward pass, or `freeSteps` steps of the
    /// minimiser (noise-free), `parallelBlocks` blocks of examples at once.
    public func makeFreePhase<Scalar: BLASScalar>(energy: EnergySpecification, layerStepScales: [Scalar]?, parallelBlocks: Int) -> any Dynamics<Scalar> {
        guard let freeSteps, !energy.hasFeedForwardFreePhase else { return FeedForwardPass<Scalar>() }
        return make(minimizer, steps: freeSteps, noise: 0, layerStepScales: layerStepScales, parallelBlocks: parallelBlocks, log: nil)
    }

    /// The second phase's dynamics: `nudgedSteps` steps of its minimiser (with noise `σ` for gradient
    /// descent), reporting to `log` if given.
    public func makeSecondPhase<Scalar: BLASScalar>(layerStepScales: [Scalar]?, parallelBlocks: Int, log: RelaxationLog? = nil) -> any Dynamics<Scalar> {
        make(secondPhase, steps: nudgedSteps, noise: noise, layerStepScales: layerStepScales, parallelBlocks: parallelBlocks, log: log)
    }

    private func make<Scalar: BLASScalar>(_ minimizer: Minimizer, steps: Int, noise: Double, layerStepScales: [Scalar]?, parallelBlocks: Int,
                                          log: RelaxationLog?) -> any Dynamics<Scalar> {
        switch minimizer {
        case .gradientDescent:
            var dynamics = ProjectedGradientDescent<Scalar>(stepSize: Scalar(stepSize!), steps: steps, tolerance: tolerance.map { Scalar($0) },
                                                            noise: Scalar(noise), parallelBlocks: parallelBlocks, layerStepScales: layerStepScales,
                                                            stabilizesSteps: stableSteps)
            dynamics.log = log
            return dynamics
        case .exactBlock:
            var dynamics = ExactBlockDescent<Scalar>(steps: steps, tolerance: tolerance.map { Scalar($0) },
                                                     overrelaxation: Scalar(overrelaxation ?? 1), parallelBlocks: parallelBlocks)
            dynamics.log = log
            return dynamics
        }
    }
}
