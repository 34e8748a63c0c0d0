import LinearAlgebra

/// Which nudges a two-phase rule takes for a nudge of size `β`: the variants compared by Scellier,
/// Ernoult, Kendall & Kumar (2023), for Equilibrium Propagation and coupled learning alike.
public enum Nudging: String, Sendable, CaseIterable, Codable {
    /// `+β` against the free state, `(∂E/∂θ(s^{+β}) − ∂E/∂θ(s⁰))/β`: error `O(β)` (PEP, positively perturbed).
    case positive
    /// `−β` against the free state, `(∂E/∂θ(s⁰) − ∂E/∂θ(s^{−β}))/β`: error `O(β)` (NEP, negatively perturbed).
    case negative
    /// `+β` against `−β`, `(∂E/∂θ(s^{+β}) − ∂E/∂θ(s^{−β}))/2β`: error `O(β²)` (CEP, centered; the
    /// symmetric nudging of Laborieux et al. 2021).
    case centered
    /// `+β` or `−β` against the free state, the sign drawn at random for each batch, as in the code of
    /// Scellier & Bengio (2017).
    case random

    /// The signed nudges of the second phases, in order: one (`+β`, `−β`, or either, drawn from
    /// `generator`), or `+β` then `−β` for ``centered``.
    public func signedNudges<Scalar: BLASScalar, G: RandomNumberGenerator>(_ beta: Scalar, using generator: inout G) -> [Scalar] {
        switch self {
        case .positive: [beta]
        case .negative: [-beta]
        case .centered: [beta, -beta]
        case .random: [Bool.random(using: &generator) ? -beta : beta]
        }
    }

    /// The contrast of the states `phase(b)` reached with the signed nudges `b` (see
    /// ``signedNudges(_:using:)``): against the free state, divided by `b`, for one nudge; against
    /// each other, divided by `2β`, for ``centered``.
    public func contrast<Scalar: BLASScalar, G: RandomNumberGenerator>(
        beta: Scalar, freeState: NetworkState<Scalar>, using generator: inout G,
        phase: (Scalar, inout G) throws -> NetworkState<Scalar>
    ) rethrows -> Contrast<Scalar> {
        let nudges = signedNudges(beta, using: &generator)
        let states = try nudges.map { try phase($0, &generator) }
        if states.count == 2 { return Contrast(positive: states[0], negative: states[1], scale: 1 / (nudges[0] - nudges[1])) }
        return Contrast(positive: states[0], negative: freeState, scale: 1 / nudges[0])
    }
}
