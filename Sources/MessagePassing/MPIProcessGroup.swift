import CMPI
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Synchronization

/// The ranks of the MPI job this process was started in (`mpirun -np N eqprop …`): a
/// ``ProcessGroup`` on `MPI_COMM_WORLD`, its sums by `MPI_Allreduce`. MPI is initialised only in a
/// process an MPI launcher started (``isLaunched``), so a plain run never touches it.
public struct MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    /// The ranks on this machine (`OMPI_COMM_WORLD_LOCAL_SIZE`), which share its cores.
    public let localSize: Int

    /// Whether an MPI launcher started this process (Open MPI's `mpirun` sets
    /// `OMPI_COMM_WORLD_SIZE`; PMI-based launchers such as Slurm's `srun` set `PMI_SIZE`).
    public static var isLaunched: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMI_SIZE"] != nil
    }

    /// Initialises MPI (only the main thread calls it: `MPI_THREAD_FUNNELED`) and joins
    /// `MPI_COMM_WORLD`, whose errors are then returned (and thrown) rather than fatal.
    public static func join() throws -> MPIProcessGroup {
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        try check(MPI_Comm_set_errhandler(eqprop_mpi_comm_world(), eqprop_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(eqprop_mpi_comm_world(), &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(eqprop_mpi_comm_world(), &size), "MPI_Comm_size")
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        return MPIProcessGroup(rank: Int(rank), size: Int(size), localSize: Swift.max(local, 1))
    }

    public func sum<Scalar: BLASScalar>(_ values: inout [Scalar]) throws {
        let type = MemoryLayout<Scalar>.size == MemoryLayout<Float>.size ? eqprop_mpi_float() : eqprop_mpi_double()
        precondition(values.count <= Int(Int32.max), "MPI counts are 32-bit")
        let watch = Stopwatch()
        try values.withUnsafeMutableBufferPointer { buffer in
            try Self.check(MPI_Allreduce(eqprop_mpi_in_place(), buffer.baseAddress, Int32(buffer.count), type, eqprop_mpi_sum(),
                                         eqprop_mpi_comm_world()), "MPI_Allreduce")
        }
        Self.traffic.record(bytes: values.count * MemoryLayout<Scalar>.size, seconds: watch.seconds)
    }

    /// What this process's sums have moved so far: `MPI_Allreduce` calls, the bytes each rank
    /// contributed, and the seconds spent in them (waiting for the slowest rank included).
    public struct Traffic: Sendable, Equatable {
        public var calls = 0
        public var bytes = 0
        public var seconds = 0.0
    }

    /// The totals since the last ``takeTraffic()``.
    public static func takeTraffic() -> Traffic {
        traffic.take()
    }

    private static let traffic = TrafficLog()

    private final class TrafficLog: Sendable {
        private let totals = Mutex(Traffic())

        func record(bytes: Int, seconds: Double) {
            totals.withLock {
                $0.calls += 1
                $0.bytes += bytes
                $0.seconds += seconds
            }
        }

        func take() -> Traffic {
            totals.withLock { totals in
                defer { totals = Traffic() }
                return totals
            }
        }
    }

    public func agree(on value: UInt64) throws -> Bool {
        var low = value, high = value
        try Self.check(MPI_Allreduce(eqprop_mpi_in_place(), &low, 1, eqprop_mpi_uint64(), eqprop_mpi_min(), eqprop_mpi_comm_world()), "MPI_Allreduce")
        try Self.check(MPI_Allreduce(eqprop_mpi_in_place(), &high, 1, eqprop_mpi_uint64(), eqprop_mpi_max(), eqprop_mpi_comm_world()), "MPI_Allreduce")
        return low == high
    }

    /// Waits until every rank has called it.
    public func barrier() throws {
        try Self.check(MPI_Barrier(eqprop_mpi_comm_world()), "MPI_Barrier")
    }

    /// Ends MPI in this process, after the last collective call.
    public func finish() {
        MPI_Finalize()
    }

    /// Ends every rank of the job (`MPI_Abort`): a rank that fails alone must not leave the others
    /// waiting in a collective call.
    public func abort(code: Int32) -> Never {
        MPI_Abort(eqprop_mpi_comm_world(), code)
        exit(code)
    }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw MPIError(call: call, message: String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

/// An MPI call that failed, with MPI's own explanation.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let message: String

    public var description: String { "\(call) failed: \(message)" }
}
