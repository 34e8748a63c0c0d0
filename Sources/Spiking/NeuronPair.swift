import EnergyBasedLearning
import LinearAlgebra

/// A presynaptic and a postsynaptic neuron joined by a synapse of weight `w`, whose potentials
/// follow the projected Langevin dynamics of the Hopfield energy of Bengio et al. (2017),
///
/// `E(s) = ½s_pre² + ½s_post² − w·ρ(s_pre)ρ(s_post) − b_pre·ρ(s_pre) − b_post·ρ(s_post)`,
///
/// `τ_m ds = −∂E/∂s dt + σ·√τ_m dW`, with each potential kept in `[0, 1]` so that the firing
/// rate is `ρ(s) = s` (in units of the neuron's maximal rate).
///
/// Time is in milliseconds; the dynamics is the library's ``ProjectedGradientDescent`` with step
/// `ε = dt/τ_m` and noise `σ`. Without coupling each potential is an Ornstein–Uhlenbeck process
/// around its bias with correlation time `τ_m` and variance `σ²/(2 − ε)` (as long as the box is
/// rarely reached).
public struct NeuronPair: Sendable, Codable, Equatable {
    /// The synaptic weight `w`.
    public var coupling: Double
    public var preBias: Double
    public var postBias: Double
    /// `τ_m` in milliseconds.
    public var membraneTimeConstant: Double
    /// The Langevin noise level `σ`.
    public var noise: Double

    enum CodingKeys: String, CodingKey {
        case coupling, preBias = "pre_bias", postBias = "post_bias", membraneTimeConstant = "tau_ms", noise = "sigma"
    }

    public init(coupling: Double = 0, preBias: Double = 0.5, postBias: Double = 0.5,
                membraneTimeConstant: Double = 20, noise: Double = 0.2) {
        self.coupling = coupling
        self.preBias = preBias
        self.postBias = postBias
        self.membraneTimeConstant = membraneTimeConstant
        self.noise = noise
    }

    /// Layer 0 is the presynaptic neuron, layer 1 the postsynaptic one.
    public var energy: LayeredEnergy<Double> {
        LayeredEnergy(
            layerSizes: [1, 1],
            terms: [
                DenseInteraction(lower: 0, upper: 1, weight: Matrix(rows: 1, columns: 1, elements: [coupling])),
                QuadraticLeak(layer: 0), QuadraticLeak(layer: 1),
                Bias(layer: 0, bias: Matrix(rows: 1, columns: 1, elements: [preBias])),
                Bias(layer: 1, bias: Matrix(rows: 1, columns: 1, elements: [postBias])),
            ],
            stateBounds: [0...1, 0...1])
    }

    /// The firing rates `ρ(s_pre)` and `ρ(s_post)` of `trials` independent pairs at times
    /// `0, dt, …, steps·dt`, after `warmUpSteps` unrecorded steps from the noiseless fixed point.
    public func simulate<G: RandomNumberGenerator>(
        trials: Int, steps: Int, timeStep: Double, warmUpSteps: Int, using generator: inout G
    ) throws -> RateTrajectories {
        let dynamics = ProjectedGradientDescent<Double>(stepSize: timeStep / membraneTimeConstant, steps: 1, noise: noise)
        var state = NetworkState<Double>(layers: [
            Matrix(rows: trials, columns: 1, repeating: min(max(preBias, 0), 1)),
            Matrix(rows: trials, columns: 1, repeating: min(max(postBias, 0), 1)),
        ])
        let clamped = ClampedEnergy(energy, clamping: [], at: state)
        // Start at the noiseless fixed point, so that the warm-up has only the fluctuations to
        // settle: with coupling w the mean potential is (I − wJ)⁻¹b, not b, and its slow mode
        // relaxes with time constant τ_m/(1 − |w|), too slowly for the warm-up.
        var settle = dynamics
        settle.noise = 0
        settle.steps = 1_000_000
        settle.tolerance = 1e-13
        try settle.relax(&state, under: clamped, using: &generator)
        for _ in 0..<warmUpSteps {
            try dynamics.relax(&state, under: clamped, using: &generator)
        }
        var trajectories = RateTrajectories(trials: trials, length: steps + 1)
        for t in 0...steps {
            if t > 0 { try dynamics.relax(&state, under: clamped, using: &generator) }
            for n in 0..<trials {
                trajectories.pre[n * (steps + 1) + t] = state.layers[0].elements[n]
                trajectories.post[n * (steps + 1) + t] = state.layers[1].elements[n]
            }
        }
        return trajectories
    }
}

/// Firing rates of many independent trials, trial-major: `pre[n·length + t]`.
public struct RateTrajectories: Sendable {
    public let trials: Int
    public let length: Int
    public var pre: [Double]
    public var post: [Double]

    init(trials: Int, length: Int) {
        self.trials = trials
        self.length = length
        pre = Array(repeating: 0, count: trials * length)
        post = pre
    }
}
