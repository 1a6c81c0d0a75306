//! rwsgi-config (being written)
