//! rwsgi-proto (being written)
