select * from returns_by_segment
