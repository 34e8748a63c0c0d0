import ArgumentParser
import Foundation
import TrainingRuns
import Plotting

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the learning curves of a run folder (eqprop train --output DIR) as SVG.")

    @Argument(help: ArgumentHelp("The run folder.", valueName: "dir")) var folder: String
    @Option(help: ArgumentHelp("Where to write the SVG (default: DIR/learning-curves.svg).", valueName: "path")) var svg: String?

    func run() throws {
        let history = try RunFolder.history(in: folder)
        let epochs = history.map { Double($0.epoch) }
        func series(_ name: String, _ value: (EpochRecord) -> Double) -> LinePlot.Series {
            LinePlot.Series(name: name, points: Array(zip(epochs, history.map(value))), style: history.count == 1 ? .markers : .line)
        }
        let name = URL(fileURLWithPath: folder).lastPathComponent
        let plots = [
            LinePlot(title: "\(name): error", xLabel: "epoch", yLabel: "error (%)",
                     series: [series("train (during the epoch)") { 100 * $0.trainError }, series("test") { 100 * $0.testError }],
                     showsZeroLines: false),
            LinePlot(title: "\(name): cost at the free fixed point", xLabel: "epoch", yLabel: "mean cost C",
                     series: [series("train") { $0.trainCost }, series("test") { $0.testCost }], showsZeroLines: false),
        ]
        let path = svg ?? URL(fileURLWithPath: folder).appendingPathComponent("learning-curves.svg").path
        try Data(LinePlot.stacked(plots).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        print("eqprop plot: \(history.count) epochs → \(path)")
    }
}
