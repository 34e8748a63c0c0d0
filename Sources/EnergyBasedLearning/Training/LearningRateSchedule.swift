import LinearAlgebra

/// How the learning rates change over a run of `n` epochs.
public enum LearningRateSchedule: String, Codable, Sendable, CaseIterable {
    /// The same rates every epoch.
    case constant
    /// Cosine annealing (Loshchilov & Hutter 2017) to zero at the end of the run:
    /// `α(e) = α · ½(1 + cos(π(e − 1)/n))` for epoch `e = 1…n`.
    case cosine

    /// The factor applied to the rates in epoch `epoch` (1-based) of `epochs`.
    public func factor(epoch: Int, of epochs: Int) -> Double {
        switch self {
        case .constant: 1
        case .cosine: 0.5 * (1 + Double.cos(Double.pi * Double(epoch - 1) / Double(Swift.max(epochs, 1))))
        }
    }
}
