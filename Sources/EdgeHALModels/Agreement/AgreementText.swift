/// The text the model-level conformance case evaluates (`ModelAgreement.text`).
///
/// Chosen for statistical power and variety, not for ease: 285 SmolLM2 tokens (≥ 256 are
/// required) of English prose, Swift code, numbers and dates, a French paragraph and a short list.
/// Prose and code give many confident positions (a wrong kernel flips them); numbers and the
/// second language give many near-ties (where 8-bit activation rounding may legitimately flip).
/// Changing it changes every backend's figures: keep it fixed, and re-derive the bounds in
/// ModelAgreement.swift if it must change.
extension ModelAgreement {
    public static let text = #"""
    The history of computing is a story of machines that grew smaller, faster and cheaper. Early computers \#
    filled whole rooms and used vacuum tubes that failed often. The transistor changed everything: it was \#
    small, reliable and used little power. Integrated circuits then put many transistors on one chip, and \#
    engineers learned to double their number every two years.

    func average(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        return values.reduce(0, +) / Double(values.count)
    }

    In 1969 the Apollo 11 guidance computer ran at 0.043 MHz with 2,048 words of memory; in 2024 a phone \#
    runs at 3.2 GHz with 8 GB. That is roughly 74,000 times the clock and 4 million times the memory.

    La ville de Paris est la capitale de la France. Elle compte environ deux millions d'habitants et elle \#
    est traversée par la Seine. Chaque année, des millions de visiteurs viennent voir la tour Eiffel et le \#
    musée du Louvre.

    Shopping list: 3 apples, 2 loaves of bread, 1 litre of milk, and a dozen eggs.
    """#
}
