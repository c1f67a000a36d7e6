import Foundation

/// Params of `listModels`.
public struct ModelQuery: Sendable, Hashable {
    public var supportsTools: Bool?
    public var refresh: Bool

    public init(supportsTools: Bool? = nil, refresh: Bool = false) {
        self.supportsTools = supportsTools
        self.refresh = refresh
    }
}

/// One model of a `listModels` result. Optional fields are left out when the server does not say.
public struct ModelInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String?
    public var contextLength: Int?
    public var maxCompletionTokens: Int?
    public var pricing: Pricing?
    public var supportsTools: Bool?
    public var ownedBy: String?

    public init(id: String, name: String? = nil, contextLength: Int? = nil, maxCompletionTokens: Int? = nil,
                pricing: Pricing? = nil, supportsTools: Bool? = nil, ownedBy: String? = nil) {
        self.id = id
        self.name = name
        self.contextLength = contextLength
        self.maxCompletionTokens = maxCompletionTokens
        self.pricing = pricing
        self.supportsTools = supportsTools
        self.ownedBy = ownedBy
    }

    enum CodingKeys: String, CodingKey {
        case id, name, pricing
        case contextLength = "context_length"
        case maxCompletionTokens = "max_completion_tokens"
        case supportsTools = "supports_tools"
        case ownedBy = "owned_by"
    }
}

/// Prices in USD per million tokens (OpenRouter lists them per token, as strings).
public struct Pricing: Codable, Sendable, Equatable {
    public var promptPerMillion: Double
    public var completionPerMillion: Double

    public init(promptPerMillion: Double, completionPerMillion: Double) {
        self.promptPerMillion = promptPerMillion
        self.completionPerMillion = completionPerMillion
    }

    enum CodingKeys: String, CodingKey {
        case promptPerMillion = "prompt_per_million"
        case completionPerMillion = "completion_per_million"
    }
}

/// The result of `listModels`.
public struct ModelList: Encodable, Sendable {
    public var provider: String
    public var models: [ModelInfo]
    public var cached: Bool
}
