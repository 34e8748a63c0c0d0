import RealModule

/// A fast, seedable random number generator (xoshiro256**), so that every run with the same
/// seed draws the same numbers on every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the generator by expanding `seed` with SplitMix64.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public static func == (lhs: SeededGenerator, rhs: SeededGenerator) -> Bool {
        lhs.state == rhs.state
    }

    private enum CodingKeys: CodingKey { case state }

    public init(from decoder: Decoder) throws {
        let words = try decoder.container(keyedBy: CodingKeys.self).decode([UInt64].self, forKey: .state)
        guard words.count == 4 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "generator state needs 4 words"))
        }
        state = (words[0], words[1], words[2], words[3])
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode([state.0, state.1, state.2, state.3], forKey: .state)
    }
}

extension Matrix {
    /// A matrix of independent draws from the uniform distribution on `range`.
    @_specialize(where Scalar == Float, G == SeededGenerator)
    @_specialize(where Scalar == Double, G == SeededGenerator)
    public static func uniform<G: RandomNumberGenerator>(
        rows: Int, columns: Int, in range: ClosedRange<Scalar>, using generator: inout G
    ) -> Matrix {
        var matrix = Matrix(rows: rows, columns: columns)
        for i in 0..<matrix.count { matrix.elements[i] = Scalar.random(in: range, using: &generator) }
        return matrix
    }

    /// Glorot/Bengio uniform initialisation for a `fanIn × fanOut` weight:
    /// `W ~ U(−√(6/(fanIn+fanOut)), +√(6/(fanIn+fanOut)))`.
    public static func glorotUniform<G: RandomNumberGenerator>(
        fanIn: Int, fanOut: Int, using generator: inout G
    ) -> Matrix {
        let limit = Scalar(6.0 / Double(fanIn + fanOut)).squareRoot()
        return uniform(rows: fanIn, columns: fanOut, in: -limit...limit, using: &generator)
    }
}

extension Matrix {
    /// Adds independent `N(0, standardDeviation²)` draws to every element (Box–Muller).
    @_specialize(where Scalar == Float, G == SeededGenerator)
    @_specialize(where Scalar == Double, G == SeededGenerator)
    public mutating func addGaussianNoise<G: RandomNumberGenerator>(standardDeviation: Scalar, using generator: inout G) {
        elements.withUnsafeMutableBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                // u1 in (0, 1] so that log(u1) is finite.
                let u1 = 1 - Scalar.random(in: 0..<1, using: &generator)
                let u2 = Scalar.random(in: 0..<1, using: &generator)
                let radius = standardDeviation * (-2 * Scalar.log(u1)).squareRoot()
                let angle = 2 * Scalar.pi * u2
                buffer[i] += radius * Scalar.cos(angle)
                if i + 1 < buffer.count { buffer[i + 1] += radius * Scalar.sin(angle) }
                i += 2
            }
        }
    }
}
