import EnergyBasedLearning
import LinearAlgebra
import Testing

@Suite("STDP-compatible rate rule and Langevin dynamics")
struct STDPTests {
    let check = GradientCheck(layerSizes: [12, 10, 8, 4], batchSize: 5, seed: 1)

    @Test("The symmetric rate rule integrated over the nudged phase equals the EP update")
    func integralIdentity() throws {
        let (clamped, free) = try check.freeEquilibrium()
        for beta in [0.05, 0.5] {
            var generator = SeededGenerator(seed: 0)
            let stdp = try RateSTDP<Double>(beta: beta, form: .symmetric, dynamics: ProjectedGradientDescent(stepSize: 0.5, steps: 40))
                .estimate(energy: clamped, freeState: free, target: check.target, using: &generator)
                .gradient(of: check.energy)
            let ep = try EquilibriumPropagation<Double>(beta: beta, dynamics: ProjectedGradientDescent(stepSize: 0.5, steps: 40))
                .estimate(energy: clamped, freeState: free, target: check.target, using: &generator)
                .gradient(of: check.energy)
            let comparison = GradientComparison(estimate: stdp, reference: ep, names: check.energy.terms.map { $0.name })
            #expect(comparison.relativeError < 1e-12, "β = \(beta): \(comparison.relativeError)")
        }
    }

    @Test("The postsynaptic form points along the exact gradient")
    func postsynapticForm() throws {
        let rule = RateSTDP<Double>(beta: 0.01, form: .postsynaptic, dynamics: ProjectedGradientDescent(stepSize: 0.5, steps: 200))
        let comparison = try check.compare(rule)
        #expect(comparison.cosine > 0.9, "cosine \(comparison.cosine)")
        let input = try #require(comparison.parts.first { $0.name == "W0-1" })
        #expect(input.cosine > 0.999, "the input synapses see no presynaptic change: \(input.cosine)")
    }

    @Test("With Langevin noise, the averaged rule still points along the exact gradient", arguments: [0.001, 0.01])
    func noisyRule(sigma: Double) throws {
        let rule = RateSTDP<Double>(beta: 0.1, dynamics: ProjectedGradientDescent(stepSize: 0.5, steps: 40, noise: sigma))
        let comparison = try check.compare(rule, samples: 200)
        #expect(comparison.cosine > 0.99, "σ = \(sigma): cosine \(comparison.cosine)")
    }

    @Test("Under each sign policy the symmetric rate rule integrates to EP's update with the same nudges",
          arguments: [Nudging.positive, .negative, .centered, .random])
    func signPolicies(nudging: Nudging) throws {
        let (clamped, free) = try check.freeEquilibrium()
        let dynamics = ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 40)
        for seed in [UInt64(1), 2, 3] {
            var stdpGenerator = SeededGenerator(seed: seed), epGenerator = SeededGenerator(seed: seed)
            let stdp = try RateSTDP<Double>(beta: 0.05, nudging: nudging, dynamics: dynamics)
                .estimate(energy: clamped, freeState: free, target: check.target, using: &stdpGenerator).gradient(of: check.energy)
            let ep = try EquilibriumPropagation<Double>(beta: 0.05, nudging: nudging, dynamics: dynamics)
                .estimate(energy: clamped, freeState: free, target: check.target, using: &epGenerator).gradient(of: check.energy)
            let comparison = GradientComparison(estimate: stdp, reference: ep, names: check.energy.terms.map { $0.name })
            #expect(comparison.relativeError < 1e-12, "\(nudging), seed \(seed): \(comparison.relativeError)")
        }
    }

    @Test("The rule takes the run's dynamics: capped steps apply to it as to EP")
    func anyDynamics() throws {
        let (clamped, free) = try check.freeEquilibrium()
        let stable = ProjectedGradientDescent<Double>(stepSize: 0.9, steps: 40, stabilizesSteps: true)
        var a = SeededGenerator(seed: 0), b = SeededGenerator(seed: 0)
        let stdp = try RateSTDP<Double>(beta: 0.05, dynamics: stable).estimate(energy: clamped, freeState: free, target: check.target, using: &a)
        let ep = try EquilibriumPropagation<Double>(beta: 0.05, dynamics: stable).estimate(energy: clamped, freeState: free, target: check.target, using: &b)
        let comparison = GradientComparison(estimate: stdp.gradient(of: check.energy), reference: ep.gradient(of: check.energy),
                                            names: check.energy.terms.map { $0.name })
        #expect(comparison.relativeError < 1e-12, "\(comparison.relativeError)")
    }

    @Test("Langevin noise is seeded: the same seed gives the same trajectory, another seed another")
    func seededNoise() throws {
        let (clamped, free) = try check.freeEquilibrium()
        let dynamics = ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 10, noise: 0.1, parallelBlocks: 2)
        func trajectory(seed: UInt64) throws -> NetworkState<Double> {
            var generator = SeededGenerator(seed: seed)
            var state = free
            try dynamics.relax(&state, under: clamped, using: &generator)
            return state
        }
        #expect(try trajectory(seed: 1) == trajectory(seed: 1))
        #expect(try trajectory(seed: 1) != trajectory(seed: 2))
        #expect(try trajectory(seed: 1).layers[0] == free.layers[0], "the clamped input gets no noise")
    }
}
