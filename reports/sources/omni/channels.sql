select * from channels
