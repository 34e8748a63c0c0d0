import Datasets
import EnergyBasedLearning

/// One setting of a run: its run-file key (`section.key`, or a top-level key) and the
/// `eqprop train` flag that overrides it. ``RunKey/all`` is the one table of both; run files,
/// flags, errors and help texts read it.
public struct RunKey: Sendable, Equatable {
    /// `training.epochs`.
    public let key: String
    /// `epochs`, for `--epochs`.
    public let flag: String
    /// Whether the value is a list (`[784, 500, 10]` in a file, `784,500,10` on the command line).
    public let isList: Bool
    /// What the setting does, for help texts.
    public let help: String

    init(_ key: String, flag: String? = nil, list: Bool = false, _ help: String) {
        self.key = key
        self.flag = flag ?? String(key.split(separator: ".").last!)
        isList = list
        self.help = help
    }

    /// The section (`training`), or `""` for a top-level key.
    public var section: String { key.contains(".") ? String(key.split(separator: ".")[0]) : "" }

    /// The key within its section (`epochs`).
    public var name: String { String(key.split(separator: ".").last!) }

    /// Every setting, in the order of a run file.
    public static let all: [RunKey] = [
        RunKey("dataset", "Data set: " + DatasetName.allCases.map(\.rawValue).joined(separator: " or ") + "."),
        RunKey("pixels", "Input pixels: unit (p/255, in [0, 1]) or symmetric (2p/255 − 1, in [−1, 1])."),
        RunKey("validation", "Hold out the last N training examples as a validation set, on which the epoch is chosen (0: none)."),
        RunKey("seed", "Seed of the weights, the example order and the rule's randomness."),
        RunKey("output", "Run folder: run.yaml, per-epoch metrics, the model and .npz checkpoints."),
        RunKey("architecture.layers", flag: "layers", list: true, "Layer shapes, input first: units, or channels×height×width written CxHxW, e.g. 784,500,10 or 1x28x28,8x14x14,10."),
        RunKey("architecture.interactions", flag: "interactions", list: true, "How each layer after the input meets the one below: dense, or convK[/sS][/pP][/poolM] (a K×K convolution, stride S, zero padding P, between CxHxW layers, then M×M max pooling), e.g. conv5/p2/pool2,dense (default: all dense)."),
        RunKey("architecture.gains", list: true, "A factor on each interaction's initial Glorot-uniform weights, e.g. 0.5,0.5,1 (default: 1 for all): smaller initial weights start a deep network nearer a unique, fast-settling fixed point."),
        RunKey("energy.kind", flag: "energy", "Energy: hopfield or pc (predictive coding)."),
        RunKey("energy.hidden-activation", "With --energy pc: activation of the hidden layers."),
        RunKey("energy.output-activation", "With --energy pc: activation of the output layer."),
        RunKey("dynamics.minimizer", "How each phase relaxes: gradient-descent (steps of ε) or exact-block (each layer set to its minimum, the even then the odd layers; the hopfield energy)."),
        RunKey("dynamics.nudged-minimizer", "How the rule's second phase relaxes, if not as the free phase: gradient-descent or exact-block (default: the minimizer's)."),
        RunKey("dynamics.epsilon", "Step size ε of gradient descent."),
        RunKey("dynamics.overrelaxation", "exact-block: the over-relaxation factor ω in (0, 2) (default 1)."),
        RunKey("dynamics.free-steps", "Steps of the free phase (the hopfield energy; the pc energy's free phase is the feed-forward pass)."),
        RunKey("dynamics.nudged-steps", "Steps of the rule's second phase (nudged, clamped or inference steps; tbp's truncation, rbp's iterations)."),
        RunKey("dynamics.tolerance", "Relax each phase until no unit moves by more than this in a step; free-steps and nudged-steps are then the caps."),
        RunKey("dynamics.noise", "Langevin noise level σ of the second phase."),
        RunKey("dynamics.stable-steps", "Cap each layer's relaxation step by the energy's curvature at the current weights."),
        RunKey("dynamics.persistent-particles", "Start each free phase from the example's last fixed point."),
        RunKey("rule.name", flag: "rule", "Learning rule: " + RuleName.allCases.map(\.rawValue).joined(separator: ", ") + "."),
        RunKey("rule.beta", "ep, stdp, cpl: the size of the nudge β (the nudging picks its sign)."),
        RunKey("rule.nudging", "ep, stdp, cpl: positive, negative, centered (±β) or random (the sign of β drawn per batch)."),
        RunKey("rule.stdp-form", "stdp: symmetric or postsynaptic."),
        RunKey("rule.feedback-gain", "chl: the feedback gain γ in (0, 1] of the weak-feedback Hopfield energy (1: plain CHL)."),
        RunKey("rule.output-precision", "pc: the output precision π_L, the rule's nudge (hidden precisions 1)."),
        RunKey("rule.lambda", "pc-nudge: λ, the output's prediction error held at −λ·∂C/∂ŷ."),
        RunKey("training.epochs", "Epochs to train."),
        RunKey("training.batch-size", "Examples per batch."),
        RunKey("training.learning-rates", list: true, "Learning rates, one per interaction, e.g. 0.2,0.1."),
        RunKey("training.optimizer", "Optimizer: sgd or adam; the learning rates are its step sizes α_k."),
        RunKey("training.schedule", "Learning-rate schedule: constant or cosine (annealed to zero over the epochs)."),
        RunKey("training.weight-decay", "Decoupled weight decay λ: after each step the parameters shrink by 1 − α_k·λ (0: none)."),
        RunKey("training.cost", "Output cost: squared-error or cross-entropy (of the softmax)."),
        RunKey("training.random-shift", "Move each training image by up to N pixels along each axis, at random, each time it enters a batch, repeating its border (0: never; images only)."),
        RunKey("training.horizontal-flip", "Mirror each training image left to right with probability ½ each time it enters a batch (images only)."),
    ]

    /// The setting of `key`.
    public static func named(_ key: String) -> RunKey? { all.first { $0.key == key } }

    /// The setting that `--flag` overrides.
    public static func flagged(_ flag: String) -> RunKey? { all.first { $0.flag == flag } }

    /// The sections, in order, each with its keys.
    static var sections: [(name: String, keys: [String])] {
        var sections: [(name: String, keys: [String])] = []
        for key in all where !key.section.isEmpty {
            if sections.last?.name == key.section { sections[sections.count - 1].keys.append(key.name) } else { sections.append((key.section, [key.name])) }
        }
        return sections
    }

    /// The top-level keys and the sections, as a run file's top level admits them.
    static var topLevel: [String] { all.filter { $0.section.isEmpty }.map(\.key) + sections.map(\.name) }
}
