import LinearAlgebra

/// How a network relaxes (the run file's `dynamics` section): projected gradient descent with step
/// `ε` (``ProjectedGradientDescent``) for the free phase and for every rule's second phase, or the
/// feed-forward pass for the free phase of the predictive-coding energy.
public struct DynamicsSpecification: Codable, Sendable, Equatable {
    /// The step `ε`.
    public var stepSize: Double
    /// Steps of the free phase (`n_it_neg` in the code of Scellier & Bengio); `nil` on an energy whose
    /// free phase is the feed-forward pass.
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

    public init(stepSize: Double, freeSteps: Int?, nudgedSteps: Int, tolerance: Double? = nil, noise: Double = 0, stableSteps: Bool = false,
                persistentParticles: Bool = false) {
        self.stepSize = stepSize
        self.freeSteps = freeSteps
        self.nudgedSteps = nudgedSteps
        self.tolerance = tolerance
        self.noise = noise
        self.stableSteps = stableSteps
        self.persistentParticles = persistentParticles
    }

    /// Throws a ``SpecificationError`` naming the first setting that cannot be, on `energy`.
    public func validate(energy: EnergySpecification) throws {
        try require(stepSize > 0 && stepSize.isFinite, "dynamics.epsilon", "a positive finite step size", stepSize)
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

    /// The free phase's dynamics on `energy`: the feed-forward pass, or `freeSteps` steps of projected
    /// gradient descent (noise-free), `parallelBlocks` blocks of examples at once.
    public func makeFreePhase<Scalar: BLASScalar>(energy: EnergySpecification, layerStepScales: [Scalar]?, parallelBlocks: Int) -> any Dynamics<Scalar> {
        guard let freeSteps, !energy.hasFeedForwardFreePhase else { return FeedForwardPass<Scalar>() }
        return ProjectedGradientDescent(stepSize: Scalar(stepSize), steps: freeSteps, tolerance: tolerance.map { Scalar($0) },
                                        parallelBlocks: parallelBlocks, layerStepScales: layerStepScales, stabilizesSteps: stableSteps)
    }

    /// The second phase's dynamics: `nudgedSteps` steps of projected gradient descent with noise `σ`,
    /// reporting to `log` if given.
    public func makeSecondPhase<Scalar: BLASScalar>(layerStepScales: [Scalar]?, parallelBlocks: Int, log: RelaxationLog? = nil) -> ProjectedGradientDescent<Scalar> {
        var dynamics = ProjectedGradientDescent<Scalar>(stepSize: Scalar(stepSize), steps: nudgedSteps, tolerance: tolerance.map { Scalar($0) },
                                                        noise: Scalar(noise), parallelBlocks: parallelBlocks, layerStepScales: layerStepScales,
                                                        stabilizesSteps: stableSteps)
        dynamics.log = log
        return dynamics
    }
}
