import Dispatch
import LinearAlgebra

/// Gradient descent on the function `F` of a clamped energy (`E`, or `E + β·C` in a nudged phase)
/// with step `ε`, each state projected onto its layer's box:
///
/// `s_k ← Π_[a,b]( s_k − ε · ∂F/∂s_k + σ·√ε·ξ )`,   `ξ ~ N(0, I)`,
///
/// all free layers updated at once from the previous state, as in Scellier & Bengio (2017),
/// where `ε = 0.5`, `σ = 0` and the box is `[0, 1]`. With noise `σ > 0` this is the
/// Euler–Maruyama discretisation, with time step `ε`, of the projected Langevin dynamics
/// `ds = −∂F/∂s dt + σ dW` of Bengio et al. (2017).
public struct ProjectedGradientDescent<Scalar: BLASScalar>: Dynamics {
    public var stepSize: Scalar
    /// The number of steps, or the maximum number when `tolerance` is set.
    public var steps: Int
    /// Stop once no unit's state changes by more than this in one step. It is also what
    /// ``Relaxation/unsettledExamples`` counts against (1e-4 when `nil`).
    public var tolerance: Scalar?
    /// The noise level `σ` of the Langevin term (0: deterministic).
    public var noise: Scalar
    /// A factor per layer on the step size (`nil`: 1 for every layer), for energies whose layers
    /// have very different curvatures (the weak-feedback energy).
    public var layerStepScales: [Scalar]?
    /// Cap each free layer's step at `1/R_k`, where `R_k = Σ_j ‖∂²F/∂s_k∂s_j‖₂` over the free
    /// layers (see ``stabilized(for:)``), recomputed for every relaxation from the current
    /// weights. A fixed `ε` makes explicit-Euler relaxation diverge once `ε·λ_max(∂²F/∂s²) > 2`,
    /// which growing weights can reach during training.
    public var stabilizesSteps: Bool
    /// Where each relaxation reports its steps and the examples that did not settle (`nil`: nowhere).
    public var log: RelaxationLog?
    /// How many blocks of examples relax at once on separate threads. Examples do not interact,
    /// so without noise the result does not depend on it beyond floating-point rounding in BLAS.
    public var parallelBlocks: Int

    public init(stepSize: Scalar, steps: Int, tolerance: Scalar? = nil, noise: Scalar = 0, parallelBlocks: Int = 1,
                layerStepScales: [Scalar]? = nil, stabilizesSteps: Bool = false) {
        precondition(stepSize > 0 && steps >= 0, "the step size must be positive and the step count non-negative")
        precondition(noise >= 0, "the noise level σ cannot be negative")
        precondition(parallelBlocks >= 1, "at least one block")
        self.stepSize = stepSize
        self.steps = steps
        self.tolerance = tolerance
        self.noise = noise
        self.parallelBlocks = parallelBlocks
        self.layerStepScales = layerStepScales
        self.stabilizesSteps = stabilizesSteps
    }

    /// These dynamics with each free layer's step `ε_k = ε·scale_k` lowered, where needed, to
    /// `1/R_k`, `R_k = Σ_j ‖∂²F/∂s_k∂s_j‖₂` summed over the free layers `j` from the terms'
    /// ``EnergyTerm/curvatureBounds(freeLayers:)`` (a nudge ``CostTerm`` among them: `|β|` times 1 for
    /// the squared error, ½ for the cross-entropy). With `D = diag(ε_k)`, block Gershgorin bounds the
    /// eigenvalues of `D·∂²F/∂s²` by `max_k ε_k R_k ≤ 1`, so every step is stable (`< 2`) and, on a
    /// quadratic, lowers `F`. Unchanged if a term cannot bound its curvature. The result does not
    /// stabilise again.
    public func stabilized(for energy: ClampedEnergy<Scalar>) -> ProjectedGradientDescent {
        var stabilized = self
        stabilized.stabilizesSteps = false
        guard let sums = energy.curvatureRowSums() else { return stabilized }
        var scales = layerStepScales ?? Array(repeating: 1, count: energy.energy.layerSizes.count)
        for (k, sum) in sums where sum > 0 {
            scales[k] = Swift.min(scales[k], Scalar(1 / (sum * Double(stepSize))))
        }
        stabilized.layerStepScales = scales
        return stabilized
    }

    /// One step at a time, the step sizes capped once for `energy` (when ``stabilizesSteps``), without
    /// a tolerance, and without a log (a step is not a relaxation).
    public func singleSteps(under energy: ClampedEnergy<Scalar>) -> any Dynamics<Scalar> {
        var step = stabilizesSteps ? stabilized(for: energy) : self
        step.steps = 1
        step.tolerance = nil
        step.log = nil
        return step
    }

    /// The per-layer step scales (1 for every layer without them).
    public func metric(under energy: ClampedEnergy<Scalar>) -> [Scalar] {
        layerStepScales ?? Array(repeating: 1, count: energy.energy.layerSizes.count)
    }

    @discardableResult
    @_specialize(where Scalar == Float, G == SeededGenerator)
    public func relax<G: RandomNumberGenerator>(
        _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, using generator: inout G
    ) throws -> Relaxation {
        if stabilizesSteps {
            return try stabilized(for: energy).relax(&state, under: energy, using: &generator)
        }
        return try relaxInBlocks(&state, under: energy, blocks: parallelBlocks, drawingNoise: noise > 0, using: &generator,
                                 log: log, relaxBlock: relaxBlock(_:under:using:))
    }

    private func relaxBlock(_ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>,
                            using generator: inout SeededGenerator) throws -> Relaxation {
        // The step −ε·(∂F/∂s + n) with n ~ N(0, σ²/ε) is −ε·∂F/∂s + σ√ε·ξ.
        let gradientNoise = noise / stepSize.squareRoot()
        return try stepsUntilSettled(&state, under: energy, steps: steps, tolerance: tolerance) { state, energy, gradient, rowChanges, measuring in
            energy.stateGradient(at: state, into: &gradient)
            if noise > 0 {
                for k in energy.freeLayers {
                    gradient.layers[k].addGaussianNoise(standardDeviation: gradientNoise, using: &generator)
                }
            }
            for k in energy.freeLayers {
                let stepSize = stepSize * (layerStepScales?[k] ?? 1)
                if measuring {
                    state.layers[k].descend(along: gradient.layers[k], stepSize: stepSize, within: energy.stateBounds[k], rowChanges: &rowChanges)
                } else {
                    state.layers[k].descend(along: gradient.layers[k], stepSize: stepSize, within: energy.stateBounds[k])
                }
            }
        }
    }
}

/// Relaxes `state` in `blocks` blocks of examples (rows) at once, on separate threads, with
/// `relaxBlock`; examples do not interact. Each block draws its noise from its own generator,
/// seeded from `generator` when `drawingNoise` (else `generator` is left untouched). The combined
/// relaxation (the most steps, the largest last change, every unsettled example, every example's
/// steps) goes to `log`.
func relaxInBlocks<Scalar: BLASScalar, G: RandomNumberGenerator>(
    _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, blocks requested: Int, drawingNoise: Bool,
    using generator: inout G, log: RelaxationLog?,
    relaxBlock: (inout NetworkState<Scalar>, ClampedEnergy<Scalar>, inout SeededGenerator) throws -> Relaxation
) throws -> Relaxation {
    let blocks = Swift.min(requested, state.batchSize)
    let seeds = drawingNoise ? (0..<blocks).map { _ in generator.next() } : Array(repeating: 0, count: blocks)
    guard blocks > 1 else {
        var blockGenerator = SeededGenerator(seed: seeds[0])
        let relaxation = try relaxBlock(&state, energy, &blockGenerator)
        log?.record(relaxation, examples: state.batchSize)
        return relaxation
    }
    let ranges = (0..<blocks).map { b in (b * state.batchSize / blocks)..<((b + 1) * state.batchSize / blocks) }
    let results = ConcurrentResults<Result<(NetworkState<Scalar>, Relaxation), Error>>(count: blocks)
    let whole = state
    withoutActuallyEscaping(relaxBlock) { relaxBlock in
        let task = UncheckedSendable(relaxBlock)
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            let rows = ranges[b]
            results[b] = Result {
                var part = whole.rows(rows)
                var blockGenerator = SeededGenerator(seed: seeds[b])
                let relaxation = try task.value(&part, energy.restricted(to: Array(rows)), &blockGenerator)
                return (part, relaxation)
            }
        }
    }
    var combined = Relaxation(steps: 0, lastChange: 0, unsettledExamples: 0, exampleSteps: 0)
    for b in 0..<blocks {
        let (part, relaxation) = try results[b]!.get()
        state.setRows(startingAt: ranges[b].lowerBound, from: part, layers: energy.freeLayers)
        combined.steps = Swift.max(combined.steps, relaxation.steps)
        combined.lastChange = Swift.max(combined.lastChange, relaxation.lastChange)
        combined.unsettledExamples += relaxation.unsettledExamples
        combined.exampleSteps += relaxation.exampleSteps
    }
    log?.record(combined, examples: state.batchSize)
    return combined
}

/// A value shared with concurrent tasks that only read it (a relaxation's block function, whose
/// blocks touch disjoint examples).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// One slot per concurrent task; each task writes only its own slot.
final class ConcurrentResults<Value>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Value?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    subscript(index: Int) -> Value? {
        get { slots[index] }
        set { slots[index] = newValue }
    }
}

extension Matrix {
    /// `self ← Π_bounds(self − ε·gradient)`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    mutating func descend(along gradient: Matrix, stepSize: Scalar, within bounds: ClosedRange<Scalar>?) {
        let low = bounds?.lowerBound ?? -.infinity
        let high = bounds?.upperBound ?? .infinity
        gradient.elements.withUnsafeBufferPointer { g in
            elements.withUnsafeMutableBufferPointer { s in
                for i in s.indices { s[i] = Swift.min(Swift.max(s[i] - stepSize * g[i], low), high) }
            }
        }
    }

    /// `self ← Π_bounds(self − ε·gradient)`, raising `rowChanges[r]` to the largest `|Δ|` of row `r`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    mutating func descend(along gradient: Matrix, stepSize: Scalar, within bounds: ClosedRange<Scalar>?, rowChanges: inout [Scalar]) {
        let low = bounds?.lowerBound ?? -.infinity
        let high = bounds?.upperBound ?? .infinity
        let n = columns
        gradient.elements.withUnsafeBufferPointer { g in
            elements.withUnsafeMutableBufferPointer { s in
                rowChanges.withUnsafeMutableBufferPointer { changes in
                    for r in 0..<rows {
                        let change = projectedStep(s.baseAddress! + r * n, along: g.baseAddress! + r * n, count: n,
                                                   stepSize: stepSize, low: low, high: high)
                        changes[r] = Swift.max(changes[r], change)
                    }
                }
            }
        }
    }
}

/// `s ← clip(s − ε·g, low, high)` on `count` elements; returns the largest `|Δs|`. Never inlined, so
/// that generic callers (a relaxation behind `any Dynamics`) reach the specialisations.
@inline(never)
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func projectedStep<Scalar: BLASScalar>(_ s: UnsafeMutablePointer<Scalar>, along g: UnsafePointer<Scalar>, count: Int,
                                       stepSize: Scalar, low: Scalar, high: Scalar) -> Scalar {
    // The largest |Δs| as an integer maximum of bit patterns: this loop vectorises.
    var change: Scalar.MagnitudeBits = 0
    for i in 0..<count {
        let updated = Swift.min(Swift.max(s[i] - stepSize * g[i], low), high)
        change = Swift.max(change, (updated - s[i]).magnitudeBits)
        s[i] = updated
    }
    return Scalar(magnitudeBits: change)
}
