select * from alerts
