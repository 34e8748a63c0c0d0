import ArgumentParser
import Foundation
import MessagePassing

@main
struct EqPropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eqprop",
        abstract: "Energy-based learning: Equilibrium Propagation and its relatives, fast and exact.",
        subcommands: [Train.self, SweepCommand.self, Evaluate.self, Plot.self, Gradcheck.self, Align.self, STDP.self, Bench.self, DataCommand.self])

    static func main() {
        OpenBLASKernel.selectBeforeStart()
        RuntimeTuning.apply()
        let job = MPIJob.group
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
            if let ranks = MPIJob.ranks, !(command is Train || command is SweepCommand || command is Bench) {
                throw ValidationError("only train, sweep and bench run on MPI ranks; run this command without mpirun (\(ranks.size) ranks were started)")
            }
        } catch {
            // Every rank parsed the same arguments and fails alike.
            leaveAlike(job, error)
        }
        do {
            try command.run()
            job?.finish()
        } catch let refusal as MPIJob.RefusedOnEveryRank {
            leaveAlike(job, refusal.reason)
        } catch {
            guard let ranks = MPIJob.ranks, exitCode(for: error) != .success else { exit(withError: error) }
            // A rank that fails alone would leave the others waiting in a collective call: end them all.
            // Rank 0 reports first; the others wait a second, so that an error every rank meets later
            // (the same data missing on every rank) is usually reported by rank 0 alone, whose abort
            // ends them first.
            if ranks.rank != 0 { Thread.sleep(forTimeInterval: 1) }
            FileHandle.standardError.write(Data("eqprop: rank \(ranks.rank) of \(ranks.size): \(fullMessage(for: error))\n".utf8))
            ranks.abort(code: exitCode(for: error).rawValue)
        }
    }

    /// Ends a process whose every rank met `error` alike before communicating: each leaves the job
    /// cleanly and rank 0 (or a process alone) says why, once. Rank 0 says it before any rank leaves:
    /// mpirun ends the job as soon as one rank exits with a non-zero code, which could otherwise cut
    /// rank 0 off before it writes.
    private static func leaveAlike(_ job: MPIProcessGroup?, _ error: Error) -> Never {
        guard let job else { exit(withError: error) }
        let code = exitCode(for: error)
        if MPIJob.isLeader {
            let text = Data((fullMessage(for: error) + "\n").utf8)
            (code == .success ? FileHandle.standardOutput : FileHandle.standardError).write(text)
        }
        try? job.barrier()
        job.finish()
        Foundation.exit(code.rawValue)
    }
}
