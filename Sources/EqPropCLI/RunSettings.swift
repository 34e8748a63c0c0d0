import ArgumentParser
import Datasets
import EnergyBasedLearning
import TrainingRuns

/// The run a command works on: a YAML run file or a preset, and a flag for every setting, which
/// overrides the file's value. `train` and `bench` share it, so both accept the same runs.
struct RunSettings: ParsableArguments {
    @Argument(help: ArgumentHelp("A YAML run file (see the presets in Sources/TrainingRuns/Presets).", valueName: "run-file"))
    var runFile: String?

    @Option(help: "Start from a preset (default: scellier2017-net1 when no run file is given).")
    var preset: String?

    @Option(help: ArgumentHelp("Layer sizes, input first, e.g. 784,500,10.", valueName: "sizes"))
    var layers: String?
    @Option(parsing: .unconditional) var epochs: Int?
    @Option(parsing: .unconditional) var batchSize: Int?
    @Option(parsing: .unconditional, help: "Steps of the free phase.") var freeSteps: Int?
    @Option(parsing: .unconditional, help: "Steps of each nudged phase.") var nudgedSteps: Int?
    @Option(parsing: .unconditional, help: "Step size ε of the dynamics.") var epsilon: Double?
    @Option(parsing: .unconditional, help: "Nudging strength β for the cost ½‖y − d‖² (the rule's nudge).") var beta: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Learning rates, one per weight matrix, e.g. 0.2,0.1.", valueName: "rates"))
    var learningRates: String?
    @Flag(inversion: .prefixedNo, help: "Draw the sign of β at random for each batch.")
    var randomSign: Bool?
    @Flag(help: "Symmetric nudging with +β and −β (Laborieux et al. 2021).")
    var symmetric = false
    @Option(help: "Learning rule: ep, ep-symmetric, stdp (the rate-based STDP rule, online in the nudged phase), chl, pc, pc-nudge, bp.")
    var rule: RuleName?
    @Option(help: "Energy: hopfield or pc (predictive coding).")
    var energy: TrainingConfiguration.EnergyKind?
    @Option(help: "Output cost: squared-error or cross-entropy (of the softmax).")
    var cost: CostName?
    @Option(help: "Optimizer: sgd or adam; the learning rates are its step sizes α_k.")
    var optimizer: OptimizerName?
    @Option(help: "Learning-rate schedule: constant or cosine (annealed to zero over the epochs).")
    var schedule: LearningRateSchedule?
    @Option(parsing: .unconditional, help: "Decoupled weight decay λ: after each step the parameters shrink by 1 − α_k·λ (0: none).")
    var weightDecay: Double?
    @Option(help: "Input pixels: unit (p/255, in [0, 1]) or symmetric (2p/255 − 1, in [−1, 1]).")
    var pixels: PixelScaling?
    @Option(name: .customLong("hidden-activation"), help: "With --energy pc: activation of the hidden layers.")
    var hiddenActivation: Activation?
    @Option(name: .customLong("output-activation"), help: "With --energy pc: activation of the output layer.")
    var outputActivation: Activation?
    @Option(help: "With --rule stdp: symmetric or postsynaptic.")
    var stdpForm: STDPForm?
    @Option(parsing: .unconditional, help: "Langevin noise level σ in the nudged phase.")
    var noise: Double?
    @Flag(inversion: .prefixedNo, help: "Start each free phase from the example's last fixed point.")
    var persistentParticles: Bool?
    @Flag(inversion: .prefixedNo, help: "Cap each layer's relaxation step by the energy's curvature at the current weights (stable inference as weights grow).")
    var stableSteps: Bool?
    @Option(parsing: .unconditional) var seed: UInt64?

    func validate() throws {
        if runFile != nil, preset != nil {
            throw ValidationError("--preset: give a run file or a preset, not both")
        }
    }

    /// Applies every flag given that changes the configuration; returns those flags.
    func apply(to c: inout TrainingConfiguration) throws -> [String] {
        var given: [String] = []
        func override<T>(_ value: T?, _ flag: String, _ change: (T) throws -> Void) rethrows {
            guard let value else { return }
            try change(value)
            given.append(flag)
        }
        try override(layers, "--layers") { c.layerSizes = try parseList($0, flag: "layers") }
        override(epochs, "--epochs") { c.epochs = $0 }
        override(batchSize, "--batch-size") { c.batchSize = $0 }
        override(freeSteps, "--free-steps") { c.freeSteps = $0 }
        override(nudgedSteps, "--nudged-steps") { c.nudgedSteps = $0 }
        override(epsilon, "--epsilon") { c.stepSize = $0 }
        override(beta, "--beta") { c.beta = $0 }
        try override(learningRates, "--learning-rates") { c.learningRates = try parseList($0, flag: "learning-rates") }
        override(randomSign, "--random-sign") { c.randomSign = $0 }
        override(symmetric ? true : nil, "--symmetric") { _ in c.nudging = .symmetric }
        override(rule, "--rule") { rule in
            c.rule = rule.rule
            if rule == .epSymmetric { c.nudging = .symmetric }
        }
        override(energy, "--energy") { c.energy = $0 }
        override(hiddenActivation, "--hidden-activation") { c.hidden = $0 }
        override(outputActivation, "--output-activation") { c.output = $0 }
        override(cost, "--cost") { c.cost = $0 }
        override(optimizer, "--optimizer") { c.optimizer = $0 }
        override(schedule, "--schedule") { c.schedule = $0 }
        override(weightDecay, "--weight-decay") { c.weightDecay = $0 }
        override(pixels, "--pixels") { c.pixels = $0 }
        override(stdpForm, "--stdp-form") { c.stdpForm = $0 }
        override(noise, "--noise") { c.noise = $0 }
        override(persistentParticles, "--persistent-particles") { c.persistentParticles = $0 }
        override(stableSteps, "--stable-steps") { c.stableSteps = $0 }
        override(seed, "--seed") { c.seed = $0 }
        return given
    }

    /// The run file, the preset or the default preset, with `dataset`, `output` (when given) and
    /// the setting flags applied, validated.
    func resolved(dataset: DatasetName? = nil, output: String? = nil) throws -> (run: RunFile, name: String) {
        var run: RunFile
        let name: String
        if let runFile {
            run = try RunFile(contentsOf: runFile)
            name = runFile
        } else {
            name = preset ?? "scellier2017-net1"
            run = try RunFile.preset(name)
        }
        if let dataset { run.dataset = dataset }
        if let output { run.output = output }
        var c = run.configuration
        _ = try apply(to: &c)
        try c.validate()
        run.configuration = c
        return (run, name)
    }
}
