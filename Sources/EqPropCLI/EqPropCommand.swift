import ArgumentParser
import Foundation

@main
struct EqPropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eqprop",
        abstract: "Energy-based learning: Equilibrium Propagation and its relatives, fast and exact.",
        subcommands: [Train.self, SweepCommand.self, Evaluate.self, Plot.self, Gradcheck.self, Align.self, STDP.self, Bench.self, DataCommand.self])

    static func main() {
        OpenBLASKernel.selectBeforeStart()
        RuntimeTuning.apply()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
