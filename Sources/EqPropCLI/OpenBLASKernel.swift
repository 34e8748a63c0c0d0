import Foundation
import LinearAlgebra

/// Debian's OpenBLAS 0.3.21 does not recognise recent CPUs and falls back to its slow
/// "Prescott" kernels. OpenBLAS reads `OPENBLAS_CORETYPE` only when it loads, so when that
/// happens EqProp sets the variable from the CPU's features and restarts itself once.
enum OpenBLASKernel {
    static func selectBeforeStart() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, BLAS.coreName.lowercased() == "prescott",
              let cpuInfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let kernel: String
        if flags.contains("avx512f") && flags.contains("avx512vl") {
            kernel = "SkylakeX"
        } else if flags.contains("avx2") && flags.contains("fma") {
            kernel = "Haswell"
        } else {
            return
        }
        setenv("OPENBLAS_CORETYPE", kernel, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv only returns on failure: carry on with the slow kernels.
    }
}
