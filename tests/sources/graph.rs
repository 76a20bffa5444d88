//! The Microsoft Entra PIM source against the Graph test server (see common::graph_server).
