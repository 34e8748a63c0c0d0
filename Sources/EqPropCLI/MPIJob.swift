import ArgumentParser
import EnergyBasedLearning
import Foundation
import MessagePassing

/// The MPI job this process runs in, when an MPI launcher started it (`mpirun -np N eqprop train …`):
/// `train` and `bench` split every batch over its ranks, `sweep` its runs; the other commands run
/// in one process and refuse more.
enum MPIJob {
    /// The job's ranks, joined before the command runs; `nil` outside a job.
    static let group: MPIProcessGroup? = {
        guard MPIProcessGroup.isLaunched else { return nil }
        do {
            return try MPIProcessGroup.join()
        } catch {
            FileHandle.standardError.write(Data("eqprop: cannot join the MPI job: \(error)\n".utf8))
            exit(1)
        }
    }()

    /// The job's ranks when there are more than one.
    static var ranks: MPIProcessGroup? { group.flatMap { $0.size > 1 ? $0 : nil } }

    /// Whether this process writes the run's files and prints its progress: rank 0, or a process
    /// alone.
    static var isLeader: Bool { (group?.rank ?? 0) == 0 }

    /// A refusal every rank meets alike, before any of them has communicated (it depends on the
    /// arguments alone): rank 0 reports it, once, and every rank leaves the job cleanly.
    struct RefusedOnEveryRank: Error {
        let reason: ValidationError
    }

    /// Throws unless `learning` can be trained data-parallel: every rank draws the same random
    /// numbers (the example order, a random nudge's sign), so per-example noise and persistent
    /// particles, which need each rank's own, are refused by name.
    static func requireDataParallel(_ learning: LearningSpecification) throws(RefusedOnEveryRank) {
        if learning.dynamics.noise > 0 {
            throw RefusedOnEveryRank(reason: ValidationError("--noise (dynamics.noise): Langevin noise is not implemented on MPI ranks (each rank would draw the same noise); run it in one process"))
        }
        if learning.dynamics.persistentParticles {
            throw RefusedOnEveryRank(reason: ValidationError("--persistent-particles (dynamics.persistent-particles): not implemented on MPI ranks (an example's particle would live on whichever rank last relaxed it); run it in one process"))
        }
    }
}
