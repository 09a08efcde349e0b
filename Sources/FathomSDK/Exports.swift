// A flow author needs one import: `import FathomSDK`. The toolkit's tasks come with `import FathomToolkitTasks`.
@_exported import FathomAPI
@_exported import FathomClient
@_exported import FathomCore
@_exported import Logging
