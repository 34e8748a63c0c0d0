import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Plotting
import TrainingRuns

struct Align: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how a rule's update aligns with backprop's gradient as its nudge shrinks (Millidge et al. 2022).",
        discussion: """
            On a predictive-coding network and a batch of real images: for each seed, nudge and number of inference steps, \
            the rule's update against backprop's gradient (cosine and relative distance, overall and per layer). The \
            defaults are the paper's experiment: MNIST, 784-128-64-10, ReLU hidden layers, identity output, squared error, \
            λ ∈ {0.01, 0.1, 0.2, …, 1.0}, 50 inference steps of rate 0.1, seeds 1, 2, 3.

            With --gdu: the GDU comparison of Ernoult et al. (2019) on a Hopfield network of the same layer sizes: the free \
            phase runs --free-steps steps of rate ε (default 0.5), and for each β in --nudges (default 0.001) and each of the \
            first K nudged steps (K = the largest of --steps, default 10), EP's update against minus BPTT's gradient counted \
            back from the end of the free phase, for the weights and for the states.
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var ruleOptions: RuleOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("The rule's nudges, comma-separated: λ for pc-nudge (the default rule), the output-to-hidden precision ratio π_L for pc, β for ep and cpl, the feedback gain γ for chl (on a weak-feedback Hopfield network).", valueName: "list"))
    var nudges: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Numbers of inference steps, comma-separated.", valueName: "list"))
    var steps: String?
    @Option(parsing: .unconditional, help: "Step size of the inference dynamics (default 0.1; 0.5 with --gdu).") var inferenceRate: Double?
    @Flag(help: "Compare EP's step-by-step updates with BPTT's step-by-step gradients (the GDU property) instead.")
    var gdu = false
    @Option(parsing: .unconditional, help: "With --gdu: steps T of the free phase.") var freeSteps: Int = 3000
    @Option(parsing: .unconditional, help: ArgumentHelp("Seeds of the networks, comma-separated.", valueName: "list"))
    var seeds = "1,2,3"
    @Option(help: ArgumentHelp("Layers, input first: sizes, or shapes CxHxW for convolutional layers.", valueName: "layers"))
    var layers = "784,128,64,10"
    @Option(help: ArgumentHelp("How each layer after the input meets the one below: dense, or convK[/sS][/pP] (a convolution of the predictive-coding energy), e.g. conv4/s2/p1,dense (default: all dense).", valueName: "list"))
    var interactions: String?
    @Option(name: .customLong("hidden-activation"), help: "Activation of the hidden layers.") var hidden: Activation = .relu
    @Option(name: .customLong("output-activation"), help: "Activation of the output layer.") var output: Activation = .identity
    @Option(help: "The output cost: squared-error or cross-entropy (of the softmax).") var cost: CostName = .squaredError
    @Option(parsing: .unconditional, help: "Images in the batch (the first ones of the training set).") var batchSize: Int = 64
    @Option(help: "Write every measurement as CSV to this file.") var csv: String?
    @Option(help: "Write an SVG plot (cosine and relative distance per layer against the nudge) to this file.") var svg: String?
    @Flag(help: "Print the table as JSON.") var json = false

    func validate() throws {
        if let nudge = ruleOptions.given.first(where: { flag, _ in RuleName.allCases.contains { $0.nudgeSetting == flag } }) {
            throw ValidationError("--\(nudge.flag): align sweeps the rule's nudge; give the nudges with --nudges")
        }
        if gdu, !ruleOptions.given.isEmpty { throw ValidationError("--\(ruleOptions.given[0].flag): --gdu compares EP's nudged steps; it takes no rule") }
    }

    func run() throws {
        if gdu { return try runGDU() }
        let nudgeList: [Double] = try parseList(nudges ?? "0.01,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0", flag: "nudges")
        let rule = try ruleOptions.specification(default: .pcNudge) { _ in nudgeList.first ?? 1 }
        let sweep = AlignmentSweep(
            rule: rule, architecture: try architecture(layers: layers, interactions: interactions), hidden: hidden, output: output,
            nudges: nudgeList,
            steps: try parseList(steps ?? "50", flag: "steps"),
            inferenceRate: inferenceRate ?? 0.1, seeds: try parseList(seeds, flag: "seeds"), cost: cost)
        do {
            try sweep.validate()
        } catch let error as AlignmentSweep.InvalidSetting {
            throw ValidationError(error.description)
        }
        let (input, target) = try batch(layerSizes: sweep.layerSizes)
        let measurements = try sweep.run(input: input, target: target)
        let summary = AlignmentSummary(measurements)
        if let csv { try writeOutput(Data(csvTable(measurements).utf8), to: csv, flag: "--csv") }
        if let svg { try writeOutput(Data(LinePlot.stacked(plots(summary, sweep: sweep)).utf8), to: svg, flag: "--svg") }
        if json {
            try printJSON(AlignmentReport(sweep: sweep, batchSize: input.rows, rows: measurements, summary: summary))
        } else {
            print("\(rule.summary) against backprop, \(sweep.architecture.summary), "
                  + (rule.name == .chl ? "weak-feedback Hopfield network" : "\(hidden.rawValue)/\(output.rawValue)") + ", \(input.rows) images, mean over seeds \(seeds)")
            for line in summary.lines {
                let layers = line.parts.map { "\($0.name) \(String(format: "%.4f", $0.cosine))" }.joined(separator: ", ")
                print("\(rule.name.nudgeName ?? "nudge") \(line.nudge), \(line.steps) steps: cosine \(String(format: "%.5f", line.cosine)), "
                      + "relative distance \(String(format: "%.4f", line.relativeError)) (\(layers))")
            }
        }
    }

    /// The first `--batch-size` training images and their one-hot targets, in Double.
    func batch(layerSizes: [Int]) throws -> (input: Matrix<Double>, target: Matrix<Double>) {
        guard batchSize > 0 else { throw ValidationError("--batch-size: expected a positive number, got \(batchSize)") }
        let train = try data.load(DataSpecification()).training
        guard train.inputs.columns == layerSizes[0], train.targets.columns == layerSizes.last else {
            throw ValidationError("--layers: the data set has \(train.inputs.columns) inputs and \(train.targets.columns) classes, "
                                  + "the network \(layerSizes[0]) and \(layerSizes.last!)")
        }
        let rows = Array(0..<min(batchSize, train.count))
        return (train.inputs.gatheringRows(rows).converted(to: Double.self), train.targets.gatheringRows(rows).converted(to: Double.self))
    }

    private func csvTable(_ rows: [AlignmentSweep.Row]) -> String {
        var text = "rule,nudge,steps,seed,layer,cosine,relative_error\n"
        for row in rows {
            text += "\(row.rule.rawValue),\(row.nudge),\(row.steps),\(row.seed),all,\(row.comparison.cosine),\(row.comparison.relativeError)\n"
            for part in row.comparison.parts {
                text += "\(row.rule.rawValue),\(row.nudge),\(row.steps),\(row.seed),\(part.name),\(part.cosine),\(part.relativeError)\n"
            }
        }
        return text
    }

    /// Cosine and relative distance against the nudge, one line per layer and one for the whole
    /// update, at the largest step count.
    private func plots(_ summary: AlignmentSummary, sweep: AlignmentSweep) -> [LinePlot] {
        let steps = sweep.steps.max()!
        let lines = summary.lines.filter { $0.steps == steps }.sorted { $0.nudge < $1.nudge }
        let names = lines.first?.parts.map(\.name) ?? []
        func series(_ value: @escaping (AlignmentSummary.Line, Int?) -> Double) -> [LinePlot.Series] {
            [LinePlot.Series(name: "all layers", points: lines.map { ($0.nudge, value($0, nil)) })]
                + names.indices.map { i in LinePlot.Series(name: names[i], points: lines.map { ($0.nudge, value($0, i)) }) }
        }
        let title = "\(sweep.rule.summary) vs backprop, \(steps) inference steps, mean of \(sweep.seeds.count) seeds"
        return [
            LinePlot(title: title, xLabel: "nudge \(sweep.rule.name.nudgeName ?? "")", yLabel: "cosine similarity",
                     series: series { line, i in i.map { line.parts[$0].cosine } ?? line.cosine }, showsZeroLines: false),
            LinePlot(title: title, xLabel: "nudge \(sweep.rule.name.nudgeName ?? "")", yLabel: "relative distance ‖ĝ − g‖/‖g‖",
                     series: series { line, i in i.map { line.parts[$0].relativeError } ?? line.relativeError }, showsZeroLines: false),
        ]
    }
}

extension Activation: ExpressibleByArgument {}

/// Means over seeds for each (nudge, steps).
struct AlignmentSummary: Encodable {
    struct Line: Encodable {
        var nudge: Double
        var steps: Int
        var cosine: Double
        var relativeError: Double
        var parts: [GradcheckReport.Part]
        enum CodingKeys: String, CodingKey { case nudge, steps, cosine, relativeError = "relative_error", parts = "per_layer" }
    }
    var lines: [Line]

    init(_ rows: [AlignmentSweep.Row]) {
        var keys: [(Double, Int)] = []
        for row in rows where !keys.contains(where: { $0 == (row.nudge, row.steps) }) { keys.append((row.nudge, row.steps)) }
        lines = keys.map { nudge, steps in
            let group = rows.filter { $0.nudge == nudge && $0.steps == steps }.map(\.comparison)
            func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
            let names = group[0].parts.map(\.name)
            return Line(nudge: nudge, steps: steps, cosine: mean(group.map(\.cosine)), relativeError: mean(group.map(\.relativeError)),
                        parts: names.indices.map { i in
                            GradcheckReport.Part(name: names[i], cosine: mean(group.map { $0.parts[i].cosine }),
                                                 relativeError: mean(group.map { $0.parts[i].relativeError }))
                        })
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(lines)
    }
}

struct AlignmentReport: Encodable {
    var sweep: AlignmentSweep
    var batchSize: Int
    var rows: [AlignmentSweep.Row]
    var summary: AlignmentSummary

    enum CodingKeys: String, CodingKey {
        case rule, nudging, nudgeName = "nudge_name", layers, architecture, hidden, output, cost, inferenceRate = "inference_rate", seeds
        case batchSize = "batch_size", rows, summary
    }
    struct Row: Encodable {
        var nudge: Double
        var steps: Int
        var seed: UInt64
        var cosine: Double
        var relativeError: Double
        var parts: [GradcheckReport.Part]
        enum CodingKeys: String, CodingKey { case nudge, steps, seed, cosine, relativeError = "relative_error", parts = "per_layer" }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sweep.rule.name.rawValue, forKey: .rule)
        if case let .ep(_, nudging) = sweep.rule { try container.encode(nudging.rawValue, forKey: .nudging) }
        if case let .cpl(_, nudging) = sweep.rule { try container.encode(nudging.rawValue, forKey: .nudging) }
        try container.encode(sweep.rule.name.nudgeName, forKey: .nudgeName)
        try container.encode(sweep.layerSizes, forKey: .layers)
        try container.encode(sweep.architecture.summary, forKey: .architecture)
        try container.encode(sweep.hidden.rawValue, forKey: .hidden)
        try container.encode(sweep.output.rawValue, forKey: .output)
        try container.encode(sweep.cost.rawValue, forKey: .cost)
        try container.encode(sweep.inferenceRate, forKey: .inferenceRate)
        try container.encode(sweep.seeds, forKey: .seeds)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(rows.map {
            Row(nudge: $0.nudge, steps: $0.steps, seed: $0.seed, cosine: $0.comparison.cosine, relativeError: $0.comparison.relativeError,
                parts: $0.comparison.parts.map(GradcheckReport.Part.init))
        }, forKey: .rows)
        try container.encode(summary, forKey: .summary)
    }
}
