// A flow author needs one import: `import FathomSDK`.
@_exported import FathomAPI
@_exported import FathomCore
@_exported import Logging
@_exported import FathomToolkit
