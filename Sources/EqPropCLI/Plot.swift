import ArgumentParser
import Foundation
import TrainingRuns
import Plotting

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the learning curves of a run folder (eqprop train --output DIR) as SVG: error, cost, energy and alignment with the exact gradient, per epoch.")

    @Argument(help: ArgumentHelp("The run folder.", valueName: "dir")) var folder: String
    @Option(help: ArgumentHelp("Where to write the SVG (default: DIR/learning-curves.svg).", valueName: "path")) var svg: String?

    func run() throws {
        let history = try RunFolder.history(in: folder)
        let epochs = history.map { Double($0.epoch) }
        func series(_ name: String, _ value: (EpochRecord) -> Double) -> LinePlot.Series {
            LinePlot.Series(name: name, points: Array(zip(epochs, history.map(value))), style: history.count == 1 ? .markers : .line)
        }
        let name = URL(fileURLWithPath: folder).lastPathComponent
        func optionalSeries(_ name: String, _ value: (EpochRecord) -> Double?) -> [LinePlot.Series] {
            let points = history.compactMap { record in value(record).map { (Double(record.epoch), $0) } }
            return points.isEmpty ? [] : [LinePlot.Series(name: name, points: points, style: points.count == 1 ? .markers : .line)]
        }
        var plots = [
            LinePlot(title: "\(name): error", xLabel: "epoch", yLabel: "error (%)",
                     series: [series("train (during the epoch)") { 100 * $0.trainError }]
                         + optionalSeries("validation") { $0.validationError.map { 100 * $0 } } + [series("test") { 100 * $0.testError }],
                     showsZeroLines: false),
            LinePlot(title: "\(name): cost at the free fixed point", xLabel: "epoch", yLabel: "mean cost C",
                     series: [series("train") { $0.trainCost }] + optionalSeries("validation") { $0.validationCost } + [series("test") { $0.testCost }],
                     showsZeroLines: false),
        ]
        let energy = optionalSeries("test") { $0.testEnergy }
        if !energy.isEmpty {
            plots.append(LinePlot(title: "\(name): energy at the free fixed point", xLabel: "epoch", yLabel: "mean energy E(s⁰)",
                                  series: energy, showsZeroLines: false))
        }
        let alignment = optionalSeries("cosine") { $0.alignmentCosine } + optionalSeries("relative error") { $0.alignmentRelativeError }
        if !alignment.isEmpty {
            plots.append(LinePlot(title: "\(name): the rule's update against the exact gradient", xLabel: "epoch",
                                  yLabel: "cosine, relative error", series: alignment, showsZeroLines: true))
        }
        let path = svg ?? URL(fileURLWithPath: folder).appendingPathComponent("learning-curves.svg").path
        try writeOutput(Data(LinePlot.stacked(plots).utf8), to: path, flag: "--svg")
        print("eqprop plot: \(history.count) epochs → \(path)")
    }
}
