"""The wire contract, shared by server, client and tools: names, schemas, the hardened parser, the messages.

The only module of namespaces and SOAPActions (``names``), the hand-written ``xsd/`` and ``wsdl/`` and their
compiled form (``schema``), the one XML parser configuration (``safexml``), and one reader and one writer per
message (``codec``). It may import the domain and ``gateway.errors``; never the application layer or an adapter.
"""
