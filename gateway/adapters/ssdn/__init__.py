"""The legacy front: the network's ``sendXML`` connector, carrying ManageAccess documents, for OCMW software."""
