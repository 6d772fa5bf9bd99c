select * from returns_monthly
