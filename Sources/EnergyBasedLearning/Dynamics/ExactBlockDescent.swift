import LinearAlgebra

/// Exact block coordinate descent: each free layer in turn set to the exact minimiser of `F` over its
/// box, the other layers fixed; layers that no term couples are set at once (the even, then the odd
/// layers of a layered network). One step is one sweep over all of them.
///
/// It applies when `F`, every other layer fixed, is `½c_k‖s_k‖² + q_k·s_k` plus a constant
/// (``EnergyTerm/layerCurvature(ofLayer:)``): the layered Hopfield energy on its box `[0, 1]`, where
/// the hard sigmoid is the identity (`c_k = 1`), with a squared-error nudge on the output
/// (`c_L = 1 + β`). Each unit then minimises a one-dimensional quadratic: with the gradient
/// `g = c·s + q` at the current state,
///
/// `s ← Π_[a,b]( s − g/c )`, for the Hopfield energy `s_k ← clip(drive_k, 0, 1)`,
///
/// and for the nudged output `s_L ← clip((drive_L + β·d)/(1 + β), 0, 1)`. When `c ≤ 0` (a negative
/// nudge `β ≤ −1`) the quadratic is concave or linear and its minimum over the box is at the end
/// with the lower value. With over-relaxation `ω` (the ``overrelaxation``) the step is
/// `Π(s − ω·g/c)`; for `0 < ω ≤ 2` each unit's quadratic does not rise (it is symmetric about its
/// minimum, and projecting a point of a convex function's sublevel interval onto the box stays in
/// it), so **no half-sweep ever raises `F`**. With `ω = 1` a half-sweep is the
/// "fixed-point minimizer" of Scellier et al. (2023) run synchronously by layer parity.
///
/// A sweep costs what one step of ``ProjectedGradientDescent`` costs: every interaction's products
/// once, but information crosses the whole network in one sweep instead of one layer per step.
/// The cross-entropy of the softmax is not quadratic in the output: a nudged phase with it has no
/// closed-form layer minimiser and is refused (``NotLayerQuadratic``), as are predictive-coding
/// energies with non-linear activations.
public struct ExactBlockDescent<Scalar: BLASScalar>: Dynamics {
    /// The number of sweeps, or the maximum number when `tolerance` is set.
    public var steps: Int
    /// Stop once no unit's state changes by more than this in a sweep; also what
    /// ``Relaxation/unsettledExamples`` counts against (1e-4 when `nil`).
    public var tolerance: Scalar?
    /// The over-relaxation factor `ω` in `(0, 2)`: 1 sets each layer to its minimiser.
    public var overrelaxation: Scalar
    /// Where each relaxation reports its sweeps and the examples that did not settle (`nil`: nowhere).
    public var log: RelaxationLog?
    /// How many blocks of examples relax at once on separate threads.
    public var parallelBlocks: Int

    public init(steps: Int, tolerance: Scalar? = nil, overrelaxation: Scalar = 1, parallelBlocks: Int = 1) {
        precondition(steps >= 0, "the sweep count cannot be negative")
        precondition(overrelaxation > 0 && overrelaxation < 2, "the over-relaxation factor ω is in (0, 2)")
        precondition(parallelBlocks >= 1, "at least one block")
        self.steps = steps
        self.tolerance = tolerance
        self.overrelaxation = overrelaxation
        self.parallelBlocks = parallelBlocks
    }

    /// One sweep at a time, without a tolerance or a log.
    public func singleSteps(under energy: ClampedEnergy<Scalar>) -> any Dynamics<Scalar> {
        var sweep = self
        sweep.steps = 1
        sweep.tolerance = nil
        sweep.log = nil
        return sweep
    }

    /// `1/c_k` for each free layer with `c_k > 0`: the step each layer takes along its force.
    public func metric(under energy: ClampedEnergy<Scalar>) -> [Scalar] {
        var metric = [Scalar](repeating: 1, count: energy.energy.layerSizes.count)
        if case let .success(curvatures) = energy.layerCurvatures() {
            for (k, c) in curvatures where c > 0 { metric[k] = Scalar(1 / c) }
        }
        return metric
    }

    /// Throws ``NotLayerQuadratic`` for an energy that is not quadratic layer by layer, and
    /// ``RelaxationError/unboundedLayer(_:)`` for a layer whose curvature is not positive and whose
    /// states are not bounded.
    @discardableResult
    @_specialize(where Scalar == Float, G == SeededGenerator)
    public func relax<G: RandomNumberGenerator>(
        _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, using generator: inout G
    ) throws -> Relaxation {
        let curvatures = try energy.layerCurvatures().get()
        for (k, c) in curvatures where c <= 0 && energy.stateBounds[k] == nil { throw RelaxationError.unboundedLayer(k) }
        let groups = energy.independentLayerGroups().map { Set($0) }
        return try relaxInBlocks(&state, under: energy, blocks: parallelBlocks, drawingNoise: false, using: &generator, log: log) { block, energy, _ in
            try sweep(&block, under: energy, curvatures: curvatures, groups: groups)
        }
    }

    private func sweep(_ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, curvatures: [Int: Double],
                       groups: [Set<Int>]) throws -> Relaxation {
        try stepsUntilSettled(&state, under: energy, steps: steps, tolerance: tolerance) { state, energy, gradient, rowChanges, _ in
            for group in groups {
                energy.stateGradient(at: state, into: &gradient, layers: group)
                for k in group.sorted() {
                    state.layers[k].minimizeQuadratic(gradient: gradient.layers[k], curvature: Scalar(curvatures[k]!),
                                                      overrelaxation: overrelaxation, within: energy.stateBounds[k],
                                                      rowChanges: &rowChanges)
                }
            }
        }
    }
}

extension Matrix {
    /// Each element `s` moved to the minimiser over `bounds` of the one-dimensional quadratic
    /// `½c·x² + q·x` whose derivative at `s` is `gradient` (`q = g − c·s`), over-relaxed by `ω` when
    /// `c > 0`; `rowChanges[r]` raised to the largest `|Δ|` of row `r`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    mutating func minimizeQuadratic(gradient: Matrix, curvature c: Scalar, overrelaxation omega: Scalar, within bounds: ClosedRange<Scalar>?,
                                    rowChanges: inout [Scalar]) {
        let low = bounds?.lowerBound ?? -.infinity
        let high = bounds?.upperBound ?? .infinity
        let n = columns
        gradient.elements.withUnsafeBufferPointer { g in
            elements.withUnsafeMutableBufferPointer { s in
                rowChanges.withUnsafeMutableBufferPointer { changes in
                    for r in 0..<rows {
                        let row = (r * n)..<((r + 1) * n)
                        var change: Scalar = 0
                        if c > 0 {
                            change = projectedStep(s.baseAddress! + row.lowerBound, along: g.baseAddress! + row.lowerBound, count: n,
                                                   stepSize: omega / c, low: low, high: high)
                        } else {
                            // Concave or linear: the lower of the two ends.
                            for i in row {
                                let q = g[i] - c * s[i]
                                let atLow = (c / 2 * low + q) * low, atHigh = (c / 2 * high + q) * high
                                let updated = atLow <= atHigh ? low : high
                                change = Swift.max(change, abs(updated - s[i]))
                                s[i] = updated
                            }
                        }
                        changes[r] = Swift.max(changes[r], change)
                    }
                }
            }
        }
    }
}
