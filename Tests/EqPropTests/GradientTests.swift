import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing

@Suite("Reference gradient and the EP theorem")
struct GradientTests {
    let check = GradientCheck(layerSizes: [12, 10, 8, 4], batchSize: 5, seed: 1)

    /// `L(θ) = C(s*(θ))` with `s*` the free fixed point for the energy with parameters `θ`.
    func loss(_ energy: LayeredEnergy<Double>) throws -> Double {
        var generator = SeededGenerator(seed: 0)
        var state = NetworkState(input: check.input, layerSizes: energy.layerSizes)
        try check.dynamics.relax(&state, under: ClampedEnergy(energy, clamping: [0], at: state), nudge: nil, using: &generator)
        return SquaredError<Double>().cost(output: state.output, target: check.target)
    }

    @Test("Implicit differentiation equals the finite difference of the loss through the relaxation")
    func implicitDifferentiationIsExact() throws {
        let exact = try check.exactGradient()
        let (_, fixedPoint) = try check.freeEquilibrium()
        let interior = fixedPoint.layers.dropFirst().flatMap(\.elements).filter { $0 > 0 && $0 < 1 }.count
        #expect(interior > 5, "the check needs units inside the box to be meaningful")
        let h = 1e-6
        var checked = 0
        for (t, parameters) in check.energy.parameters.enumerated() {
            for (p, parameter) in parameters.enumerated() {
                for i in stride(from: 0, to: parameter.count, by: max(1, parameter.count / 7)) {
                    let numeric = try centralDifference(of: loss, energy: check.energy, term: t, parameter: p, index: i, step: h)
                    let analytic = exact[t][p].elements[i]
                    #expect(abs(numeric - analytic) < 1e-7 + 1e-5 * abs(analytic), "\(check.energy.terms[t].name)[\(i)]: \(numeric) vs \(analytic)")
                    checked += 1
                }
            }
        }
        #expect(checked > 40)
    }

    @Test("EP's estimate converges to the exact gradient: cosine ≥ 0.999 at small β", arguments: [Nudging.oneSided, .symmetric])
    func cosine(nudging: Nudging) throws {
        for beta in [1e-3, -1e-3] {
            let comparison = try check.run(beta: beta, nudging: nudging)
            #expect(comparison.cosine >= 0.999, "β = \(beta): cosine \(comparison.cosine)")
            for part in comparison.parts where part.name.hasPrefix("W") {
                #expect(part.cosine >= 0.999, "\(part.name): \(part.cosine)")
            }
        }
    }

    /// The slope of log(relative error) against log(β) over a range of β small enough that no unit
    /// enters or leaves its box between the phases (at β = 0.04 one does, in this network).
    func fittedOrder(_ nudging: Nudging) throws -> Double {
        try EqPropTests.fittedOrder(nudges: [0.02, 0.01, 0.005, 0.0025]) { try check.run(beta: $0, nudging: nudging).relativeError }
    }

    @Test("One-sided EP's error shrinks like β")
    func oneSidedOrder() throws {
        let order = try fittedOrder(.oneSided)
        #expect(abs(order - 1) < 0.1, "fitted order \(order)")
    }

    @Test("Symmetric EP's error shrinks like β²")
    func symmetricOrder() throws {
        let order = try fittedOrder(.symmetric)
        #expect(abs(order - 2) < 0.2, "fitted order \(order)")
    }

    @Test("Implicit differentiation refuses a state that is not a fixed point")
    func notAFixedPoint() throws {
        let state = NetworkState(input: check.input, layerSizes: check.energy.layerSizes)
        let clamped = ClampedEnergy(check.energy, clamping: [0], at: state)
        #expect(throws: ImplicitDifferentiation<Double>.Failure.self) {
            try ImplicitDifferentiation<Double>(fixedPointTolerance: 1e-10).gradient(energy: clamped, at: state, target: check.target)
        }
    }
}
