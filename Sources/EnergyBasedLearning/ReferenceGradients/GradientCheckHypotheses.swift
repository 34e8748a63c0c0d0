import LinearAlgebra

extension GradientCheck {
    /// Whether the theorem a comparison rests on holds at the free fixed point: a rule's estimate tends
    /// to `dL/dθ` when the free state is a strict minimum of the energy (its Hessian on the free units
    /// inside their box positive definite), the energy is differentiable there (no max-pooling window
    /// with a tied largest entry), the loss is differentiable there (no free unit at a bound of its
    /// box without a force holding it there), and `dL/dθ` is not zero (else the cosine is 0/0).
    public struct Hypotheses: Sendable, Codable, Equatable {
        public enum Status: String, Sendable, Codable, CaseIterable {
            /// Every hypothesis holds: the comparison is meaningful.
            case valid
            /// The free phase did not reach a fixed point (projected-gradient residual above 1e-10).
            case notConverged = "not-converged"
            /// The Hessian on the free units inside their box has an eigenvalue at or below 0 (at
            /// most 1e-8 of its largest): the free state is a saddle or lies in a flat valley, its
            /// response to a nudge is undefined, and the nudged phase may settle anywhere.
            case notAMinimum = "not-a-minimum"
            /// The energy is not differentiable at the free fixed point (``EnergyTerm/kinks(at:freeLayers:)``:
            /// a max-pooling window whose largest entry is tied): its gradient, and so the theorem's, is undefined.
            case notDifferentiable = "not-differentiable"
            /// A free unit sits at a bound of its box with no force holding it there (`|D·∂E/∂s| ≤ 1e-9`):
            /// the fixed point, and so the loss, is not differentiable in the parameters.
            case onTheBoundary = "on-the-boundary"
            /// `dL/dθ = 0` (every output unit at a bound of its box, say): the cosine is undefined.
            case zeroGradient = "zero-gradient"
        }

        public var status: Status
        /// `max |s − Π(s − D·∂E/∂s)|` over the free units, `D` the dynamics' metric (``Dynamics/metric(under:)``).
        public var residual: Double
        /// The free units at a bound of their box with no force holding them there.
        public var marginalUnits: Int
        /// The places where the energy is not differentiable (tied pooling windows).
        public var kinks: Int = 0
        /// The free units strictly inside their box.
        public var interiorUnits: Int
        /// The extreme eigenvalues of the Hessian on the interior units, in the metric of the
        /// dynamics (`D^½ H D^½`, `D` its metric; `nil` without interior units).
        public var smallestCurvature: Double?
        public var largestCurvature: Double?
        /// `‖dL/dθ‖` of the reference.
        public var referenceNorm: Double
        /// When the hypotheses hold, the largest `|β|` for which, to first order, the minimum of
        /// `E + βC` (`s* − βλ`, ``ImplicitDifferentiation/adjoint(energy:at:target:)``) keeps every
        /// free unit on the same side of its box's bounds: an interior unit `i` reaches a bound at
        /// `min(s_i − low, high − s_i)/|λ_i|`, and a unit held at a bound by the force `g_i` is released
        /// at `|g_i| / |∂C/∂s_i − (Hλ)_i|`. A nudge beyond it differences across a kink of the box and
        /// the estimate need not be near the gradient, however well the theorem holds as `β → 0`.
        /// `nil` when no unit can reach a bound (no box, or a zero response).
        public var nudgeRange: Double?

        enum CodingKeys: String, CodingKey {
            case status, residual, marginalUnits = "marginal_units", kinks, interiorUnits = "interior_units"
            case smallestCurvature = "smallest_curvature", largestCurvature = "largest_curvature", referenceNorm = "reference_norm"
            case nudgeRange = "nudge_range"
        }

        /// Why the comparison is not valid, in one sentence (`nil` when it is).
        public var explanation: String? {
            switch status {
            case .valid: nil
            case .notConverged: "the free phase did not reach a fixed point (projected-gradient residual \(residual))"
            case .notAMinimum:
                "the free fixed point is not a strict minimum: the smallest curvature on its \(interiorUnits) interior units is \(smallestCurvature ?? .nan) (largest \(largestCurvature ?? .nan)): its response to a nudge is undefined"
            case .notDifferentiable:
                "the energy is not differentiable at the free fixed point: \(kinks) max-pooling window\(kinks == 1 ? " has its" : "s have their") largest entry tied"
            case .onTheBoundary:
                "\(marginalUnits) free unit\(marginalUnits == 1 ? " sits" : "s sit") at a bound of the box with no force holding \(marginalUnits == 1 ? "it" : "them") there: the loss is not differentiable at this fixed point"
            case .zeroGradient: "the exact gradient is zero (every output unit at a bound of its box, where the loss does not change): the cosine is undefined"
            }
        }
    }

    /// The hypotheses at the free fixed point, against `reference` (the exact gradient compared with).
    public func hypotheses(reference: [[Matrix<Double>]]) throws -> Hypotheses {
        let (clamped, state) = try freeEquilibrium()
        return hypotheses(reference: reference, clamped: clamped, state: state)
    }

    func hypotheses(reference: [[Matrix<Double>]], clamped: ClampedEnergy<Double>, state: NetworkState<Double>) -> Hypotheses {
        // Everything is measured in the dynamics' metric (D): the
        // weak-feedback energy scales layer k by γ^k and its dynamics undo it. The force on the
        // units is D·∂E/∂s and the Hessian D^½ H D^½.
        let scales = dynamics.metric(under: clamped)
        var gradient = NetworkState(zerosLike: state)
        clamped.stateGradient(at: state, into: &gradient)
        for k in gradient.layers.indices { gradient.layers[k].scale(by: scales[k]) }
        var residual = 0.0, marginal = 0
        var interior: [(layer: Int, index: Int)] = []
        for k in clamped.freeLayers {
            let low = clamped.stateBounds[k]?.lowerBound ?? -.infinity, high = clamped.stateBounds[k]?.upperBound ?? .infinity
            for i in 0..<state.layers[k].count {
                let s = state.layers[k].elements[i], g = gradient.layers[k].elements[i]
                residual = Swift.max(residual, abs(s - Swift.min(Swift.max(s - g, low), high)))
                if s > low && s < high {
                    interior.append((k, i))
                } else if (s <= low ? g : -g) <= 1e-9 {
                    marginal += 1
                }
            }
        }
        let root = scales.map { $0.squareRoot() }
        let curvature = Lanczos.extremeEigenvalues(dimension: interior.count) { vector in
            var direction = NetworkState(zerosLike: state), product = NetworkState(zerosLike: state)
            for (j, unit) in interior.enumerated() { direction.layers[unit.layer].elements[unit.index] = root[unit.layer] * vector[j] }
            clamped.hessianProduct(at: state, direction: direction, into: &product)
            return interior.map { root[$0.layer] * product.layers[$0.layer].elements[$0.index] }
        }
        let norm = reference.joined().reduce(0) { $0 + $1.dot($1) }.squareRoot()
        let kinks = clamped.energy.terms.reduce(0) { $0 + $1.kinks(at: state, freeLayers: Set(clamped.freeLayers)) }
        let status: Hypotheses.Status =
            if residual > 1e-10 { .notConverged }
            else if kinks > 0 { .notDifferentiable }
            else if let curvature, curvature.smallest <= 1e-8 * abs(curvature.largest) { .notAMinimum }
            else if marginal > 0 { .onTheBoundary }
            else if norm == 0 { .zeroGradient }
            else { .valid }
        return Hypotheses(status: status, residual: residual, marginalUnits: marginal, kinks: kinks, interiorUnits: interior.count,
                          smallestCurvature: curvature?.smallest, largestCurvature: curvature?.largest, referenceNorm: norm,
                          nudgeRange: status == .valid ? nudgeRange(clamped: clamped, state: state, force: gradient, scales: scales) : nil)
    }

    /// ``Hypotheses/nudgeRange`` at a valid fixed point where the force on the units is `force`
    /// (`D·∂E/∂s`, `D` the per-layer `scales`).
    private func nudgeRange(clamped: ClampedEnergy<Double>, state: NetworkState<Double>, force: NetworkState<Double>, scales: [Double]) -> Double? {
        guard let adjoint = try? ImplicitDifferentiation(cost: cost, fixedPointTolerance: 1e-10).adjoint(energy: clamped, at: state, target: target)
        else { return nil }
        var rate = NetworkState(zerosLike: state)
        cost.accumulateGradient(output: state.output, target: target, scale: 1, into: &rate.layers[state.layers.count - 1])
        var response = NetworkState(zerosLike: state)
        clamped.hessianProduct(at: state, direction: adjoint, into: &response)
        rate.add(response, scaledBy: -1)
        var range = Double.infinity
        for k in clamped.freeLayers {
            guard let box = clamped.stateBounds[k] else { continue }
            for i in 0..<state.layers[k].count {
                let s = state.layers[k].elements[i]
                let (distance, speed) = s > box.lowerBound && s < box.upperBound
                    ? (Swift.min(s - box.lowerBound, box.upperBound - s), abs(adjoint.layers[k].elements[i]))
                    : (abs(force.layers[k].elements[i]), scales[k] * abs(rate.layers[k].elements[i]))
                if speed > 0 { range = Swift.min(range, distance / speed) }
            }
        }
        return range.isFinite ? range : nil
    }
}
