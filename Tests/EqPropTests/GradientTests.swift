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
        try check.dynamics.relax(&state, under: ClampedEnergy(energy, clamping: [0], at: state), using: &generator)
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

    @Test("EP's estimate converges to the exact gradient: cosine ≥ 0.999 at small β", arguments: [Nudging.positive, .negative, .centered])
    func cosine(nudging: Nudging) throws {
        let comparison = try check.run(beta: 1e-3, nudging: nudging)
        #expect(comparison.cosine >= 0.999, "cosine \(comparison.cosine)")
        for part in comparison.parts where part.name.hasPrefix("W") {
            #expect(part.cosine >= 0.999, "\(part.name): \(part.cosine)")
        }
    }

    @Test("On convolutional Hopfield networks, with and without max pooling, EP's estimate converges to the exact gradient: cosine ≥ 0.999 at symmetric β = 10⁻³, error O(β²)",
          arguments: [ArchitectureSpecification.convolutional, .pooled])
    func convolutionalCosine(architecture: ArchitectureSpecification) throws {
        var valid = 0, convolutionsChecked = 0
        for seed: UInt64 in 1...12 {
            let convolutional = GradientCheck(architecture: architecture, batchSize: 4, seed: seed)
            let report = try convolutional.report(EquilibriumPropagation(beta: 1e-3, nudging: .centered, dynamics: convolutional.dynamics))
            // Some seeds saturate every output (a zero gradient) or leave a unit on its box's edge: the theorem does not apply there.
            guard let comparison = report.comparison else { continue }
            valid += 1
            #expect(comparison.cosine >= 0.999, "seed \(seed): cosine \(comparison.cosine)")
            // A convolution whose units above are all saturated has a zero gradient: its cosine is undefined.
            let exact = try convolutional.exactGradient()
            for (t, term) in convolutional.energy.terms.enumerated() where term.name.hasPrefix("C") && exact[t][0].dot(exact[t][0]) > 0 {
                let part = try #require(comparison.parts.first { $0.name == term.name })
                #expect(part.cosine >= 0.999, "seed \(seed), \(part.name): \(part.cosine)")
                convolutionsChecked += 1
            }
            let larger = try convolutional.run(beta: 1e-2, nudging: .centered).relativeError
            #expect(comparison.relativeError < larger / 50, "seed \(seed): \(comparison.relativeError) at β = 10⁻³ against \(larger) at 10⁻²")
        }
        #expect(valid >= 4 && convolutionsChecked >= 4, "\(valid) of 12 seeds where the theorem applies, \(convolutionsChecked) convolutions with a gradient")
    }

    @Test("A tied max-pooling window makes the energy not differentiable: counted when the layer below is free, or when the tied patches differ; the exact block minimizer refuses the pooled layer")
    func poolingKinks() throws {
        let check = GradientCheck(architecture: .pooled, batchSize: 2, seed: 3)
        let pooled = try #require(check.energy.terms.first { $0.name == "C1-2" })
        var state = NetworkState(input: check.input, layerSizes: check.energy.layerSizes)
        for k in 1..<state.layers.count { state.layers[k] = Matrix(rows: 2, columns: check.energy.layerSizes[k], repeating: 0.5) }
        #expect(pooled.kinks(at: state, freeLayers: [1, 2, 3]) == 2 * 2, "equal patches everywhere: every window of both examples tied")
        #expect(pooled.kinks(at: state, freeLayers: [2, 3]) == 0, "the same, the layer below clamped: equal patches leave the energy smooth")
        var generator = SeededGenerator(seed: 1)
        state.layers[1] = .uniform(rows: 2, columns: 27, in: 0.1...0.9, using: &generator)
        #expect(pooled.kinks(at: state, freeLayers: [1, 2, 3]) == 0)
        var relaxed = state, generator2 = SeededGenerator(seed: 0)
        #expect(throws: NotLayerQuadratic(term: "C1-2", layer: 1)) {
            try ExactBlockDescent<Double>(steps: 10).relax(&relaxed, under: ClampedEnergy(check.energy, clamping: [0], at: state), using: &generator2)
        }
    }

    /// The slope of log(relative error) against log(β) over a range of β small enough that no unit
    /// enters or leaves its box between the phases (at β = 0.04 one does, in this network).
    func fittedOrder(_ nudging: Nudging) throws -> Double {
        try EqPropTests.fittedOrder(nudges: [0.02, 0.01, 0.005, 0.0025]) { try check.run(beta: $0, nudging: nudging).relativeError }
    }

    @Test("Positively and negatively perturbed EP's errors shrink like β", arguments: [Nudging.positive, .negative])
    func oneSidedOrder(nudging: Nudging) throws {
        let order = try fittedOrder(nudging)
        #expect(abs(order - 1) < 0.1, "fitted order \(order)")
    }

    @Test("Centered EP's error shrinks like β²")
    func centeredOrder() throws {
        let order = try fittedOrder(.centered)
        #expect(abs(order - 2) < 0.2, "fitted order \(order)")
    }

    @Test("The errors of PEP and NEP are opposite to first order: their mean is centered EP")
    func oppositeErrors() throws {
        let (clamped, free) = try check.freeEquilibrium()
        var generator = SeededGenerator(seed: 0)
        func estimate(_ nudging: Nudging) throws -> [[Matrix<Double>]] {
            try EquilibriumPropagation(beta: 0.01, nudging: nudging, dynamics: check.dynamics)
                .estimate(energy: clamped, freeState: free, target: check.target, using: &generator).gradient(of: check.energy)
        }
        let (positive, negative, centered) = (try estimate(.positive), try estimate(.negative), try estimate(.centered))
        for (t, parameters) in centered.enumerated() {
            for (p, matrix) in parameters.enumerated() {
                var mean = positive[t][p] + negative[t][p]
                mean.scale(by: 0.5)
                #expect(maxAbsDifference(mean, matrix) < 1e-12)
            }
        }
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
