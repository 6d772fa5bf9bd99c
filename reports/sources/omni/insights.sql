select * from insights
