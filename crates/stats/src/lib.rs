//! rwsgi-stats (being written)
